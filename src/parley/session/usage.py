"""Token counts of a response: what the LLM reported, or an estimate where it reports none.

A response may make several LLM requests (tool rounds); their counts add up. A request
whose provider reported nothing is estimated at four characters a token (OpenAI's rule of
thumb for English), and the response's counts are then marked `estimated`.
"""

from __future__ import annotations

from collections.abc import Sequence

from parley.events import ResponseUsage
from parley.types import ChatMessage, TokenUsage

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


class UsageCounter:
    def __init__(self) -> None:
        self.input_tokens = 0
        self.output_tokens = 0
        self.estimated = False
        self._reported: TokenUsage | None = None

    def reported(self, usage: TokenUsage) -> None:
        """The provider's counts for the request in progress."""
        self._reported = usage

    def request_done(self, messages: Sequence[ChatMessage], output: str) -> None:
        """A request ended: its reported counts, or an estimate from its text."""
        usage, self._reported = self._reported, None
        if usage is None:
            self.estimated = True
            read = " ".join(m.content + "".join(c.arguments for c in m.tool_calls)
                            for m in messages)  # fmt: skip
            usage = TokenUsage(estimate_tokens(read), estimate_tokens(output))
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens

    def event(self, response_id: str) -> ResponseUsage:
        return ResponseUsage(response_id, self.input_tokens, self.output_tokens, self.estimated)
