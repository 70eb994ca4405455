"""The outbound side of a connection: a queue its writer drains, where clear jumps ahead.

Sessions call a transport's send methods synchronously; they put messages here and return.
The transport's `serve` coroutine runs `pump`, which writes them in order. Dropping queued
audio on a clear happens here, before the clear is even written, so the listener never gets
audio the session has already taken back.

A peer that stops reading never makes the queue grow without bound: past `max_audio` queued
frames the oldest audio goes; once `max_optional` messages wait, optional ones (error events
about the client's own bad input, say) are dropped and counted; and past `max_items`, or when
one write has not finished in `write_timeout` seconds, the peer is declared not reading:
`pump` raises PeerNotReadingError, which ends the session (as a websocket ping timeout would),
and whatever is still queued is dropped rather than written at the close.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger("parley.transport")
M = TypeVar("M")

WRITE_TIMEOUT_S = 20.0  # as uvicorn's websocket ping timeout: a write stuck this long is dead


class PeerNotReadingError(Exception):
    """The peer has not taken what was sent for too long: the connection is given up."""


class OutboundQueue(Generic[M]):
    def __init__(
        self,
        max_audio: int = 500,
        *,
        max_optional: int = 500,
        max_items: int = 2000,
        write_timeout: float | None = None,
    ) -> None:
        self._items: deque[tuple[bool, M]] = deque()
        self._audio_count = 0
        self._max_audio = max_audio
        self._max_optional = max_optional
        self._max_items = max_items
        self.write_timeout = WRITE_TIMEOUT_S if write_timeout is None else write_timeout
        self._ready = asyncio.Event()
        self.audio_overflowed = 0  # audio dropped because the peer did not keep up
        self.optional_dropped = 0  # optional messages dropped because the peer did not keep up
        self.stalled: str | None = None  # why the peer was declared not reading

    def __len__(self) -> int:
        return len(self._items)

    def put(self, message: M, *, audio: bool = False, optional: bool = False) -> None:
        if self.stalled is not None:
            return  # the connection is being given up: nothing more will be written
        if optional and len(self._items) >= self._max_optional:
            if not self.optional_dropped:
                log.warning("peer is not reading: dropping optional outbound messages")
            self.optional_dropped += 1
            return
        self._items.append((audio, message))
        if audio:
            self._audio_count += 1
            if self._audio_count > self._max_audio:
                self._drop_oldest_audio()
        if len(self._items) > self._max_items:
            self.stall(f"over {self._max_items} outbound messages queued")
        self._ready.set()

    def drop_audio(self) -> int:
        """Remove every queued audio message (a clear takes them back unsent); how many."""
        before = len(self._items)
        self._items = deque(item for item in self._items if not item[0])
        self._audio_count = 0
        return before - len(self._items)

    def stall(self, why: str) -> None:
        """Give the peer up: drop what is queued, take nothing more, wake the writer."""
        if self.stalled is None:
            self.stalled = why
            log.warning("peer is not reading (%s): closing the connection", why)
        self._items.clear()
        self._audio_count = 0
        self._ready.set()

    async def get(self) -> M:
        """The next message; raises PeerNotReadingError once the peer was given up."""
        while not self._items:
            if self.stalled is not None:
                raise PeerNotReadingError(self.stalled)
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


async def write_one(
    queue: OutboundQueue[M], send: Callable[[M], Awaitable[None]], message: M
) -> bool:
    """Write one message within the queue's write timeout; a write that stalls gives the peer
    up (`queue.stall`) and returns False."""
    try:
        async with asyncio.timeout(queue.write_timeout):
            await send(message)
    except TimeoutError:
        queue.stall(f"a write did not finish in {queue.write_timeout:g} s")
        return False
    return True


async def pump(queue: OutboundQueue[M], send: Callable[[M], Awaitable[None]]) -> None:
    """Write queued messages in order, for as long as the connection lives. Raises
    PeerNotReadingError when the peer was given up (the session then ends)."""
    while True:
        if not await write_one(queue, send, await queue.get()):
            raise PeerNotReadingError(queue.stalled)


async def drain(queue: OutboundQueue[M], send: Callable[[M], Awaitable[None]]) -> None:
    """Write what is still queued, for a close: the session's last words (a `clear` that
    stops the agent, a goodbye event) were queued after the pump was cancelled. Nothing is
    written to a peer that was given up; a write that stalls gives it up."""
    while len(queue) and queue.stalled is None:
        await write_one(queue, send, await queue.get())
