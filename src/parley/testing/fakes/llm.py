"""A scripted streaming LLM: replies word by word after a first-token latency.

A scripted reply may call tools (`ToolReply`): its words stream first, then the calls come
whole, as an adapter yields them once the model has finished writing them.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass

from parley.providers.base import LLM, LLMOutput
from parley.testing.fakes.faults import Fault, slow_close, strike
from parley.types import ChatMessage, TokenUsage, ToolCall, ToolSpec


@dataclass(frozen=True, slots=True)
class ToolReply:
    """A reply that says `text` (maybe nothing), then asks for `calls`."""

    text: str = ""
    calls: tuple[ToolCall, ...] = ()


Scripted = str | ToolReply
ReplyScript = Sequence[Scripted] | Callable[[Sequence[ChatMessage]], Scripted]


def echo_reply(messages: Sequence[ChatMessage]) -> str:
    """The default script: repeat what the person said, so demos show the loop working."""
    heard = next((m.content for m in reversed(messages) if m.role == "user"), "")
    return f"You said: {heard}." if heard else "I did not catch that."


RECENT_KEPT = 100  # requests remembered (tests read them)


class FakeLLM(LLM):
    name = "fake"
    supports_tools = True

    def __init__(
        self,
        replies: ReplyScript = echo_reply,
        *,
        first_token_latency: float = 0.2,
        token_latency: float = 0.02,
        faults: Sequence[Fault] = (),
        close_delay: float = 0.0,
        reports_usage: bool = False,
    ) -> None:
        self._queue: deque[Scripted] | None = None
        self._reply_for: Callable[[Sequence[ChatMessage]], Scripted]
        if callable(replies):
            self._reply_for = replies
        else:
            self._queue = deque(replies)
            self._reply_for = self._next_scripted
        self.first_token_latency = first_token_latency
        self.token_latency = token_latency
        self.faults = tuple(faults)
        self.close_delay = close_delay
        # Report token counts at the end, as OpenAI's include_usage does: the words of the
        # messages read and the tokens written (a tokenizer's counts differ; the flow not).
        self.reports_usage = reports_usage
        # The latest requests, for tests: a server running the fakes for days keeps no more.
        self.calls: deque[tuple[ChatMessage, ...]] = deque(maxlen=RECENT_KEPT)
        self.tools_offered: deque[tuple[ToolSpec, ...]] = deque(maxlen=RECENT_KEPT)
        self.tool_choices: deque[str] = deque(maxlen=RECENT_KEPT)
        self.streams_opened = 0

    def _next_scripted(self, messages: Sequence[ChatMessage]) -> Scripted:
        assert self._queue is not None
        return self._queue.popleft() if self._queue else echo_reply(messages)

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        return self._text_only(self.stream_with_tools(messages, ()))

    def stream_with_tools(
        self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec], tool_choice: str = "auto"
    ) -> AsyncGenerator[LLMOutput, None]:
        self.streams_opened += 1
        self.calls.append(tuple(messages))
        self.tools_offered.append(tuple(tools))
        self.tool_choices.append(tool_choice)
        reply = self._reply_for(messages)
        if isinstance(reply, str):
            reply = ToolReply(reply)
        read = sum(len(m.content.split()) for m in messages) if self.reports_usage else None
        return self._generate(reply, self.streams_opened, read)

    @staticmethod
    async def _text_only(outputs: AsyncGenerator[LLMOutput, None]) -> AsyncGenerator[str, None]:
        try:
            async for output in outputs:
                if isinstance(output, str):
                    yield output
        finally:
            await outputs.aclose()

    async def _generate(
        self, reply: ToolReply, call: int, read: int | None = None
    ) -> AsyncGenerator[LLMOutput, None]:
        tokens = re.findall(r"\S+\s*", reply.text)
        finished = False
        try:
            await asyncio.sleep(self.first_token_latency)
            for produced, token in enumerate(tokens):
                if produced:
                    await asyncio.sleep(self.token_latency)
                await strike(self.faults, "fake llm", call, produced)
                yield token
            await strike(self.faults, "fake llm", call, len(tokens))
            for tool_call in reply.calls:
                yield tool_call
            if read is not None:
                yield TokenUsage(read, len(tokens) + len(reply.calls))
            finished = True
        finally:
            if not finished:  # closed early: a slow close shows here
                await slow_close(self.close_delay)
