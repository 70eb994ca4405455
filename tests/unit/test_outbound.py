"""The outbound queue: clear drops queued audio, never events; it stays bounded."""

from __future__ import annotations

import asyncio

import pytest

from parley.transports.outbound import OutboundQueue, PeerNotReadingError, drain, pump


def test_clear_drops_only_queued_audio_and_keeps_order() -> None:
    async def main() -> list[str]:
        queue: OutboundQueue[str] = OutboundQueue()
        queue.put("a1", audio=True)
        queue.put("event")
        queue.put("a2", audio=True)
        assert queue.drop_audio() == 2
        queue.put("clear")
        queue.put("a3", audio=True)
        return [await queue.get() for _ in range(3)]

    assert asyncio.run(main()) == ["event", "clear", "a3"]


def test_a_peer_that_stops_reading_loses_old_audio_not_events() -> None:
    queue: OutboundQueue[str] = OutboundQueue(max_audio=3)
    queue.put("e1")
    for i in range(5):
        queue.put(f"a{i}", audio=True)
    queue.put("e2")
    assert queue.audio_overflowed == 2
    assert [m for _, m in queue._items] == ["e1", "a2", "a3", "a4", "e2"]


def test_optional_messages_are_dropped_once_the_peer_is_behind() -> None:
    queue: OutboundQueue[str] = OutboundQueue(max_optional=3)
    for i in range(10):
        queue.put(f"error{i}", optional=True)
    queue.put("response.done")  # essential: always kept
    assert queue.optional_dropped == 7
    assert [m for _, m in queue._items] == ["error0", "error1", "error2", "response.done"]


def test_far_behind_the_peer_is_given_up() -> None:
    async def main() -> None:
        queue: OutboundQueue[str] = OutboundQueue(max_items=5)
        for i in range(6):
            queue.put(f"event{i}")
        assert queue.stalled is not None and len(queue) == 0
        queue.put("more")  # taken and forgotten
        assert len(queue) == 0
        with pytest.raises(PeerNotReadingError, match="over 5"):
            await queue.get()

    asyncio.run(main())


def test_a_write_that_stalls_gives_the_peer_up() -> None:
    """A peer that stops reading blocks the socket write; the writer gives up after the
    timeout instead of waiting for ever while the queue fills."""

    async def main() -> tuple[float, list[str]]:
        queue: OutboundQueue[str] = OutboundQueue(write_timeout=0.2)
        written: list[str] = []
        never = asyncio.Event()

        async def send(message: str) -> None:
            if message == "stuck":
                await never.wait()
            written.append(message)

        queue.put("a")
        queue.put("stuck")
        queue.put("b")
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(PeerNotReadingError, match="did not finish"):
            await asyncio.wait_for(pump(queue, send), 5)
        elapsed = loop.time() - started
        queue.put("goodbye")
        await asyncio.wait_for(drain(queue, send), 1)  # nothing more to a peer given up
        return elapsed, written

    elapsed, written = asyncio.run(main())
    assert 0.15 <= elapsed < 2
    assert written == ["a"]
