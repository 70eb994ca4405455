"""The fakes run for as long as a load test or `parley serve --stt fake` does: what they keep
must not grow with the frames, requests and segments they serve, and concurrent calls must
not share the STT's arrival log."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.testing.fakes import FakeLLM, FakeSTT, FakeTTS
from parley.types import ChatMessage

FRAME = AudioFrame(b"\0\0" * 320, 16000)  # 20 ms


async def _push(stt: FakeSTT, frames: int) -> None:
    stream = stt.stream(TurnTakingPolicy())
    try:
        for index in range(frames):
            if index % 250 == 0:
                stream.speech_started()
            stream.push_audio(FRAME)
            if index % 250 == 200:
                stream.speech_ended()
    finally:
        await stream.aclose()


def test_a_long_run_keeps_a_fixed_amount() -> None:
    stt = FakeSTT(partial_interval=None, arrivals_kept=1000)

    async def run() -> tuple[int, int]:
        await _push(stt, 5_000)  # past the log's size: it is full from here on
        tracemalloc.start()
        try:
            gc.collect()
            before = tracemalloc.take_snapshot()
            await _push(stt, 100_000)  # 33 minutes of audio
            gc.collect()  # closed streams are cycles (their generators): count what is live
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        stats = after.compare_to(before, "filename")
        mine = [s for s in stats if s.traceback[0].filename.endswith("fakes/stt.py")]
        return sum(s.size_diff for s in mine), sum(s.count_diff for s in mine)

    grown, objects = asyncio.run(run())
    assert len(stt.arrivals) == 1000
    assert stt.arrival_log.frames == 105_000
    # A float per frame would be 100,000 objects and about 3 MB.
    assert objects < 50, f"{objects} objects retained by the fake STT"
    assert grown < 20_000, f"{grown} bytes retained by the fake STT"


def test_each_call_has_its_own_arrival_log() -> None:
    shared = FakeSTT(["one", "two"], partial_interval=None)
    first, second = shared.per_call(), shared.per_call()

    async def run() -> None:
        await asyncio.gather(_push(first, 300), _push(second, 40))

    asyncio.run(run())
    assert (first.arrival_log.frames, second.arrival_log.frames) == (300, 40)
    assert shared.arrival_log.frames == 0
    assert first.arrival_log.max_gap is not None
    # The script is the server's: each call's segments took the next utterance from it.
    assert shared.next_utterance() == ""


def test_the_llm_and_tts_remember_only_their_latest_requests() -> None:
    llm = FakeLLM(["Fine."], first_token_latency=0, token_latency=0)
    tts = FakeTTS(first_byte_latency=0, chunk_latency=0)
    history = [ChatMessage("user", "hello")]

    async def run() -> None:
        for _ in range(1500):
            async for _token in llm.stream(history):
                pass
            async for _chunk in tts.synthesize("fine"):
                pass

    asyncio.run(run())
    assert llm.streams_opened == 1500
    assert len(llm.calls) == 100 and len(tts.segments) == 100
