"""The outbound queue: clear drops queued audio, never events; it stays bounded."""

from __future__ import annotations

import asyncio

from parley.transports.outbound import OutboundQueue


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
