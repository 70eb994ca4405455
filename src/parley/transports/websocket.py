"""The websocket every transport shares: its receive loop, writes and close; each protocol
brings a codec.

The loop owns what is the same on every socket: reading a frame from the Starlette
WebSocket, noticing the close (either side, however it shows), the per-second message rate,
the size limit on text, parsing JSON through `wire_json`, and catching whatever handling one
message raises. The codec, the transport itself, owns what differs: what a binary frame
means, which model a JSON value becomes, the inbound items a message yields, and how each
problem is said in the protocol's words.

Every problem goes to the codec, which answers it and carries on (invariant 10): a bad
message is dropped, never the end of the session. The loop parses at most one frame of
bounded size per step, so no single message costs more than a frame (invariant 11).

Past the rate limit a protocol either drops messages for the rest of the second (browser)
or reads no faster until the second is over (Realtime: nothing is dropped); either way it
is told once per second, at the first message over.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

from starlette.websockets import WebSocket, WebSocketDisconnect

from parley.session.port import InboundItem
from parley.transports import wire_json

M = TypeVar("M")
OverLimit = Literal["drop", "wait"]


class RateCounter:
    """Counts messages in one-second windows; a window opens at the first message after
    the last one closed."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._window = float("-inf")
        self._count = 0
        self.over = 0  # messages past the limit, all windows

    def admit(self, now: float) -> bool:
        """Count a message arriving at `now`; False when it is past this window's limit."""
        if now - self._window >= 1.0:
            self._window, self._count = now, 0
        self._count += 1
        if self._count <= self.limit:
            return True
        self.over += 1
        return False

    @property
    def first_over(self) -> bool:
        """The message just counted is the first past the limit in its window."""
        return self._count == self.limit + 1

    def remaining(self, now: float) -> float:
        """Seconds until the current window is over."""
        return max(0.0, self._window + 1.0 - now)


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_second: int
    past_it: OverLimit  # "drop": the rest of the second is dropped; "wait": read it later
    tell: Callable[[int], None]  # said once per window, at the first message over


class Codec(Protocol[M]):
    """A protocol's half of the loop: messages in its words, problems in its words."""

    def decode(self, value: Any) -> M | None:
        """A parsed JSON value as a message; None when it is not one (said, dropped)."""

    def binary(self, data: bytes) -> M | None:
        """A binary frame as a message; None when the protocol has none (said, dropped)."""

    def too_large(self, size: int, limit: int) -> None:
        """A text message of `size` characters is over `limit`: it is dropped."""

    def malformed(self, error: wire_json.WireJSONError) -> None:
        """A text message is not JSON parley accepts: it is dropped."""

    async def handle(self, message: M) -> InboundItem | None:
        """What the message means for the session: an item, or None (nothing to hand on)."""

    def failed(self, message: M, error: Exception) -> None:
        """Handling `message` raised (a bug): say so; the session goes on."""


class WebSocketConnection(Generic[M]):
    """One socket read through one codec and written by the transport's writer. Once
    either side sees it closed (`gone`), nothing more is read or written."""

    def __init__(
        self,
        websocket: WebSocket,
        codec: Codec[M],
        *,
        max_message_bytes: int,
        rate: RateLimit | None = None,
    ) -> None:
        self._ws = websocket
        self._codec = codec
        self._max_message_bytes = max_message_bytes
        self._rate = rate
        self._counter = RateCounter(rate.per_second) if rate is not None else None
        self.pending: deque[InboundItem] = deque()  # items a message yielded, not yet taken
        self.gone = False

    async def receive(self) -> InboundItem | None:
        """The next inbound item (pending ones first); None once the socket is closed."""
        while True:
            if self.pending:
                return self.pending.popleft()
            message = await self.message()
            if message is None:
                return None
            try:
                item = await self._codec.handle(message)
            except Exception as exc:  # a bug here must not end the session: report it
                self._codec.failed(message, exc)
                continue
            if item is not None:
                return item

    async def message(self) -> M | None:
        """The next well-formed message, bad ones said and dropped; None once closed."""
        while not self.gone:
            try:
                raw = await self._ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                raw = {"type": "websocket.disconnect"}
            if raw["type"] == "websocket.disconnect":
                self.gone = True
                return None
            if not await self._admit():
                continue
            message = self._decode(raw)
            if message is not None:
                return message
        return None

    async def send(self, text: str) -> bool:
        """Write one message; False (and gone) when the socket is closed."""
        if self.gone:
            return False
        try:
            await self._ws.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.gone = True
            return False
        return True

    async def close(self, code: int, within: float) -> None:
        """Close the socket, once, waiting at most `within` s for a peer not reading."""
        if self.gone:
            return
        self.gone = True
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError, TimeoutError):
            async with asyncio.timeout(within):
                await self._ws.close(code=code)

    async def _admit(self) -> bool:
        """Count the message; past the limit, drop it or wait out the second."""
        if self._rate is None or self._counter is None:
            return True
        now = asyncio.get_running_loop().time()
        if self._counter.admit(now):
            return True
        if self._counter.first_over:
            self._rate.tell(self._rate.per_second)
        if self._rate.past_it == "drop":
            return False
        await asyncio.sleep(self._counter.remaining(now))
        return True

    def _decode(self, raw: MutableMapping[str, Any]) -> M | None:
        data: bytes | None = raw.get("bytes")
        if data is not None:
            return self._codec.binary(data)
        text: str = raw.get("text") or ""
        if len(text) > self._max_message_bytes:
            self._codec.too_large(len(text), self._max_message_bytes)
            return None
        try:
            value = wire_json.parse(text)
        except wire_json.WireJSONError as exc:
            self._codec.malformed(exc)
            return None
        return self._codec.decode(value)
