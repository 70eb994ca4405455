"""The playout scheduler on a virtual clock: pacing, lookahead, pause/resume, staleness."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from parley.conversation.inputs import ConversationInput, PlaybackFinished, PlaybackStarted
from parley.session.output import PlayoutScheduler
from parley.testing.memory_transport import MemoryTransport
from tests.scenario.harness import run_virtual

RATE = 16000
SECOND = RATE * 2  # bytes


def ramp(seconds: float, start: int = 1) -> bytes:
    import numpy as np

    count = round(seconds * RATE)
    return ((np.arange(start, start + count) % 30000) + 1).astype("<i2").tobytes()


def with_scheduler(
    body: Callable[
        [PlayoutScheduler, MemoryTransport, list[ConversationInput]], Coroutine[Any, Any, None]
    ],
    *,
    reports_playback: bool = False,
) -> tuple[MemoryTransport, list[ConversationInput]]:
    async def main() -> tuple[MemoryTransport, list[ConversationInput]]:
        transport = MemoryTransport(RATE)
        transport.reports_playback = reports_playback
        notes: list[ConversationInput] = []
        scheduler = PlayoutScheduler(transport, notes.append, lookahead=0.1)
        runner = asyncio.create_task(scheduler.run())
        await body(scheduler, transport, notes)
        runner.cancel()
        transport.listener.settle(asyncio.get_running_loop().time())
        return transport, notes

    return run_virtual(main)


def test_frames_go_out_in_real_time_never_more_than_the_lookahead_ahead() -> None:
    async def body(s: PlayoutScheduler, t: MemoryTransport, notes: list[ConversationInput]) -> None:
        s.start("r1")
        s.push("r1", ramp(1.0))
        s.end("r1")
        await asyncio.sleep(1.5)

    transport, notes = with_scheduler(body)
    assert len(transport.sent) == 50  # 1 s in 20 ms frames
    for index, (sent_at, _) in enumerate(transport.sent):
        plays_at = index * 0.02
        assert plays_at - sent_at <= 0.1 + 1e-9  # at most 100 ms ahead of the playhead
        assert sent_at == max(0.0, round(plays_at - 0.08, 6))  # and no earlier than needed
    assert notes[0] == PlaybackStarted(0.0, "r1")
    assert isinstance(notes[-1], PlaybackFinished) and abs(notes[-1].at - 1.0) < 1e-6


def test_pause_takes_back_the_unheard_lookahead_and_resume_is_exact() -> None:
    async def body(s: PlayoutScheduler, t: MemoryTransport, notes: list[ConversationInput]) -> None:
        s.start("r1")
        s.push("r1", ramp(1.0))
        s.end("r1")
        await asyncio.sleep(0.405)
        played = s.pause()
        assert abs(played - 0.42) < 1e-9  # frames that began by 0.405 s: 21 of them
        assert t.clears == [0.405]
        await asyncio.sleep(1.0)
        s.resume()
        await asyncio.sleep(1.0)

    transport, _ = with_scheduler(body)
    heard = transport.listener.heard_samples("r1")
    assert len(heard) == RATE  # every sample once
    assert (heard[1:] - heard[:-1] == 1).all()  # in order, nothing repeated


def test_audio_of_any_other_response_is_dropped() -> None:
    async def body(s: PlayoutScheduler, t: MemoryTransport, notes: list[ConversationInput]) -> None:
        s.start("r1")
        s.push("r1", ramp(0.5))
        await asyncio.sleep(0.2)
        s.drop("r1")
        assert not s.push("r1", ramp(0.5))  # late audio of a cancelled response
        s.start("r2")
        assert s.push("r2", ramp(0.2))
        s.end("r2")
        await asyncio.sleep(0.5)
        assert s.stale_chunks_dropped == 1

    transport, _ = with_scheduler(body)
    late = [at for at, f in transport.sent if f.response_id == "r1" and at > 0.2]
    assert late == []


def test_reported_playback_decides_where_a_pause_rewinds_to() -> None:
    async def body(s: PlayoutScheduler, t: MemoryTransport, notes: list[ConversationInput]) -> None:
        s.start("r1")
        s.push("r1", ramp(1.0))
        await asyncio.sleep(0.5)
        s.confirm("r1", 0.3)  # the client has heard less than the model thinks (latency)
        assert abs(s.pause() - 0.3) < 1e-9

    with_scheduler(body, reports_playback=True)
