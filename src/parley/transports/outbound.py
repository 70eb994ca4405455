"""The outbound side of a connection: a queue its writer drains, where clear jumps ahead.

Sessions call a transport's send methods synchronously; they put messages here and return.
The transport's `serve` coroutine runs `pump`, which writes them in order. Dropping queued
audio on a clear happens here, before the clear is even written, so the listener never gets
audio the session has already taken back. If the peer stops reading, the queue is bounded:
the oldest audio goes first, control messages and events are kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger("parley.transport")
M = TypeVar("M")


class OutboundQueue(Generic[M]):
    def __init__(self, max_audio: int = 500) -> None:
        self._items: deque[tuple[bool, M]] = deque()
        self._audio_count = 0
        self._max_audio = max_audio
        self._ready = asyncio.Event()
        self.audio_overflowed = 0  # audio dropped because the peer did not keep up

    def __len__(self) -> int:
        return len(self._items)

    def put(self, message: M, *, audio: bool = False) -> None:
        self._items.append((audio, message))
        if audio:
            self._audio_count += 1
            if self._audio_count > self._max_audio:
                self._drop_oldest_audio()
        self._ready.set()

    def drop_audio(self) -> int:
        """Remove every queued audio message (a clear takes them back unsent); how many."""
        before = len(self._items)
        self._items = deque(item for item in self._items if not item[0])
        self._audio_count = 0
        return before - len(self._items)

    async def get(self) -> M:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        audio, message = self._items.popleft()
        if audio:
            self._audio_count -= 1
        return message

    def _drop_oldest_audio(self) -> None:
        for index, (audio, _) in enumerate(self._items):
            if audio:
                del self._items[index]
                self._audio_count -= 1
                if not self.audio_overflowed:
                    log.warning("peer is not reading: dropping outbound audio")
                self.audio_overflowed += 1
                return


async def pump(queue: OutboundQueue[M], send: Callable[[M], Awaitable[None]]) -> None:
    """Write queued messages in order, for as long as the connection lives."""
    while True:
        await send(await queue.get())


async def drain(queue: OutboundQueue[M], send: Callable[[M], Awaitable[None]]) -> None:
    """Write what is still queued, for a close: the session's last words (a `clear` that
    stops the agent, a goodbye event) were queued after the pump was cancelled."""
    while len(queue):
        await send(await queue.get())
