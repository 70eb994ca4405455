"""A scripted streaming LLM: replies word by word after a first-token latency."""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence

from parley.providers.base import LLM
from parley.testing.fakes.faults import Fault, slow_close, strike
from parley.types import ChatMessage

ReplyScript = Sequence[str] | Callable[[Sequence[ChatMessage]], str]


def echo_reply(messages: Sequence[ChatMessage]) -> str:
    """The default script: repeat what the person said, so demos show the loop working."""
    heard = next((m.content for m in reversed(messages) if m.role == "user"), "")
    return f"You said: {heard}." if heard else "I did not catch that."


RECENT_KEPT = 100  # requests remembered (tests read them)


class FakeLLM(LLM):
    name = "fake"

    def __init__(
        self,
        replies: ReplyScript = echo_reply,
        *,
        first_token_latency: float = 0.2,
        token_latency: float = 0.02,
        faults: Sequence[Fault] = (),
        close_delay: float = 0.0,
    ) -> None:
        self._queue: deque[str] | None = None
        self._reply_for: Callable[[Sequence[ChatMessage]], str]
        if callable(replies):
            self._reply_for = replies
        else:
            self._queue = deque(replies)
            self._reply_for = self._next_scripted
        self.first_token_latency = first_token_latency
        self.token_latency = token_latency
        self.faults = tuple(faults)
        self.close_delay = close_delay
        # The latest requests, for tests: a server running the fakes for days keeps no more.
        self.calls: deque[tuple[ChatMessage, ...]] = deque(maxlen=RECENT_KEPT)
        self.streams_opened = 0

    def _next_scripted(self, messages: Sequence[ChatMessage]) -> str:
        assert self._queue is not None
        return self._queue.popleft() if self._queue else echo_reply(messages)

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        self.streams_opened += 1
        self.calls.append(tuple(messages))
        return self._generate(self._reply_for(messages), self.streams_opened)

    async def _generate(self, reply: str, call: int) -> AsyncGenerator[str, None]:
        tokens = re.findall(r"\S+\s*", reply)
        finished = False
        try:
            await asyncio.sleep(self.first_token_latency)
            for produced, token in enumerate(tokens):
                if produced:
                    await asyncio.sleep(self.token_latency)
                await strike(self.faults, "fake llm", call, produced)
                yield token
            await strike(self.faults, "fake llm", call, len(tokens))
            finished = True
        finally:
            if not finished:  # closed early: a slow close shows here
                await slow_close(self.close_delay)
