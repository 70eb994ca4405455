"""The shared websocket: its receive loop, rate counter, writes and close
(transports/websocket.py).

The loop reads a real Starlette WebSocket, fed over ASGI as a server would feed it, on
looptime's virtual clock so that a second of rate limiting costs no wall time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import looptime
import pytest
from starlette.types import Message
from starlette.websockets import WebSocket

from parley.session.port import DtmfDigit, InboundItem
from parley.transports import wire_json
from parley.transports.websocket import OverLimit, RateCounter, RateLimit, WebSocketConnection

T = TypeVar("T")


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    with asyncio.Runner(loop_factory=lambda: looptime.new_event_loop(start=0)) as runner:
        return runner.run(main())


# --- the rate counter ---------------------------------------------------------------------


def test_the_counter_admits_the_limit_per_window_and_marks_the_first_over() -> None:
    counter = RateCounter(3)
    admitted = [counter.admit(10.0 + i * 0.1) for i in range(6)]
    assert admitted == [True, True, True, False, False, False]
    assert counter.over == 3
    counter = RateCounter(3)
    firsts = []
    for i in range(6):
        counter.admit(10.0 + i * 0.1)
        firsts.append(counter.first_over)
    assert firsts == [False, False, False, True, False, False]
    assert counter.remaining(10.5) == pytest.approx(0.5)


def test_a_window_opens_at_the_first_message_after_the_last_one_closed() -> None:
    counter = RateCounter(2)
    assert counter.admit(5.0) and counter.admit(5.9)
    assert not counter.admit(5.99)
    assert counter.admit(6.0)  # one second after the window opened: a new window
    assert counter.admit(6.5) and not counter.admit(6.99)
    assert counter.remaining(6.99) == pytest.approx(0.01)
    assert counter.remaining(9.0) == 0.0


# --- the receive loop ---------------------------------------------------------------------


class Codec:
    """A protocol of JSON objects {"n": ...}: each becomes a DtmfDigit of n."""

    def __init__(self) -> None:
        self.said: list[tuple[str, Any]] = []
        self.pending: Callable[[list[InboundItem]], None] = lambda items: None

    def decode(self, value: Any) -> dict[str, Any] | None:
        if not isinstance(value, dict) or "n" not in value:
            self.said.append(("invalid", value))
            return None
        return value

    def binary(self, data: bytes) -> None:
        self.said.append(("binary", len(data)))

    def too_large(self, size: int, limit: int) -> None:
        self.said.append(("too_large", (size, limit)))

    def malformed(self, error: wire_json.WireJSONError) -> None:
        self.said.append(("malformed", str(error)))

    async def handle(self, message: dict[str, Any]) -> InboundItem | None:
        n = message["n"]
        if n == "boom":
            raise KeyError(n)
        if n == "quiet":
            return None
        if n == "two":
            self.pending([DtmfDigit("a"), DtmfDigit("b")])
            return None
        return DtmfDigit(str(n))

    def failed(self, message: dict[str, Any], error: Exception) -> None:
        self.said.append(("failed", (message["n"], type(error).__name__)))


async def connected(frames: list[Message], sent: list[Message] | None = None) -> WebSocket:
    """A Starlette WebSocket, accepted, whose peer sends `frames` and then closes; what
    the server sends after the accept goes to `sent`."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    for message in [{"type": "websocket.connect"}, *frames]:
        inbox.put_nowait(message)
    inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})

    async def send(message: Message) -> None:
        if sent is not None and message["type"] != "websocket.accept":
            sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b""}
    websocket = WebSocket(scope, inbox.get, send)
    await websocket.accept()
    return websocket


def text(value: Any) -> Message:
    return {"type": "websocket.receive", "text": json.dumps(value)}


async def read_all(
    receiver: WebSocketConnection[dict[str, Any]], at: list[float] | None = None
) -> list[str]:
    digits = []
    while (item := await receiver.receive()) is not None:
        assert isinstance(item, DtmfDigit)
        digits.append(item.digit)
        if at is not None:
            at.append(asyncio.get_running_loop().time())
    return digits


def test_each_bad_message_is_said_and_dropped_and_the_reading_goes_on() -> None:
    frames: list[Message] = [
        text({"n": 1}),
        {"type": "websocket.receive", "bytes": b"\x00" * 7},
        {"type": "websocket.receive", "text": "x" * 5001},
        {"type": "websocket.receive", "text": "{nope"},
        {"type": "websocket.receive", "text": '{"n": NaN}'},
        {"type": "websocket.receive", "text": "[" * 1000 + "]" * 1000},
        text([1, 2]),
        text({"n": "boom"}),
        text({"n": "quiet"}),
        text({"n": 2}),
    ]
    codec = Codec()

    async def main() -> tuple[list[str], WebSocketConnection[dict[str, Any]]]:
        receiver = WebSocketConnection(await connected(frames), codec, max_message_bytes=5000)
        return await read_all(receiver), receiver

    digits, receiver = run(main)
    assert digits == ["1", "2"]
    assert [kind for kind, _ in codec.said] == [
        "binary", "too_large", "malformed", "malformed", "malformed", "invalid", "failed",
    ]  # fmt: skip
    assert codec.said[0][1] == 7 and codec.said[1][1] == (5001, 5000)
    assert "nested too deeply" in codec.said[4][1]
    assert codec.said[6][1] == ("boom", "KeyError")
    assert receiver.gone


def test_items_a_message_queued_come_before_the_next_message_and_after_a_close() -> None:
    frames = [text({"n": "two"}), text({"n": 3})]
    codec = Codec()

    async def main() -> list[str]:
        receiver = WebSocketConnection(await connected(frames), codec, max_message_bytes=100)
        codec.pending = receiver.pending.extend
        return await read_all(receiver)

    assert run(main) == ["a", "b", "3"]


def test_a_closed_socket_is_not_read_again() -> None:
    async def main() -> tuple[InboundItem | None, InboundItem | None, bool]:
        receiver = WebSocketConnection(await connected([]), Codec(), max_message_bytes=100)
        first = await receiver.receive()
        return first, await receiver.receive(), receiver.gone

    assert run(main) == (None, None, True)  # a second read of the ASGI queue would hang


def flood(
    past_it: OverLimit, count: int, limit: int = 10
) -> tuple[list[str], list[float], list[int]]:
    told: list[int] = []

    async def main() -> tuple[list[str], list[float]]:
        frames = [text({"n": i}) for i in range(count)]
        rate = RateLimit(limit, past_it, told.append)
        receiver = WebSocketConnection(await connected(frames), Codec(), max_message_bytes=100,
                                     rate=rate)  # fmt: skip
        at: list[float] = []
        return await read_all(receiver, at), at

    digits, at = run(main)
    return digits, at, told


def test_past_the_limit_drop_drops_the_rest_of_the_second_and_says_so_once() -> None:
    digits, at, told = flood("drop", 25)
    assert digits == [str(i) for i in range(10)]
    assert told == [10]
    assert at[-1] < 0.01  # nothing waited


def test_past_the_limit_wait_reads_the_rest_later_and_says_so_once_a_second() -> None:
    digits, at, told = flood("wait", 25)
    assert digits == [str(i) for i in range(25)]  # nothing dropped
    assert told == [10, 10]  # at the 11th and the 22nd
    assert at[9] < 0.01 and 1.0 <= at[10] < 1.01
    assert 2.0 <= at[21] < 2.01 and at[-1] < 2.01


def test_exactly_the_limit_is_not_over_it() -> None:
    modes: tuple[OverLimit, ...] = ("drop", "wait")
    for past_it in modes:
        digits, at, told = flood(past_it, 10)
        assert len(digits) == 10 and told == [] and at[-1] < 0.01


def test_no_rate_limit_reads_everything_at_once() -> None:
    async def main() -> list[str]:
        frames = [text({"n": i}) for i in range(500)]
        receiver = WebSocketConnection(await connected(frames), Codec(), max_message_bytes=100)
        return await read_all(receiver)

    assert len(run(main)) == 500


def test_writes_stop_at_the_close_and_the_socket_is_closed_once() -> None:
    sent: list[Message] = []

    async def main() -> tuple[bool, bool]:
        wire = WebSocketConnection(await connected([], sent), Codec(), max_message_bytes=100)
        first = await wire.send("hello")
        await wire.close(1008, 1.0)
        await wire.close(1000, 1.0)
        return first, await wire.send("after")

    assert run(main) == (True, False)
    assert sent == [
        {"type": "websocket.send", "text": "hello"},
        {"type": "websocket.close", "code": 1008, "reason": ""},
    ]


def test_a_write_to_a_socket_the_peer_closed_marks_it_gone() -> None:
    async def main() -> tuple[bool, bool]:
        websocket = await connected([])
        wire = WebSocketConnection(websocket, Codec(), max_message_bytes=100)
        await websocket.close()  # as the server's shutdown would, behind the wire's back
        return await wire.send("late"), wire.gone

    assert run(main) == (False, True)
