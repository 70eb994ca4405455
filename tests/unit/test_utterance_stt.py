"""Streaming over whole-utterance STT: prefix padding, and speculation in the silence."""

from __future__ import annotations

import asyncio

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import Transcript
from parley.providers.utterance_stt import MAX_CAPTURE_S, UtteranceSTT, UtteranceSTTStream
from tests.scenario.harness import run_virtual

RATE = 16000
FRAME = 0.02


class CountingSTT(UtteranceSTT):
    """Takes `latency` per call; its text says how much audio it was given."""

    def __init__(self, latency: float, speculation_delay: float | None) -> None:
        self.latency = latency
        self.speculation_delay = speculation_delay
        self.calls: list[float] = []

    async def transcribe(self, audio: AudioFrame) -> str:
        self.calls.append(audio.duration)
        await asyncio.sleep(self.latency)
        return f"{audio.duration:.2f}s"


def frame(level: int) -> AudioFrame:
    return AudioFrame(bytes([level, 0]) * int(RATE * FRAME), RATE)


async def feed(stream: UtteranceSTTStream, frames: int, level: int = 1) -> None:
    for _ in range(frames):
        stream.push_audio(frame(level))
        await asyncio.sleep(FRAME)


async def one_utterance(stt: CountingSTT, *, resume: bool = False) -> tuple[Transcript, float]:
    """0.5 s of lead-in, speech with a quiet stretch, then the turn-ending silence."""
    stream = UtteranceSTTStream(stt, TurnTakingPolicy(prefix_padding_ms=300))
    loop = asyncio.get_running_loop()
    results: asyncio.Queue[tuple[Transcript, float]] = asyncio.Queue()

    async def read() -> None:
        async for transcript in stream:
            results.put_nowait((transcript, loop.time()))

    reader = asyncio.create_task(read())
    await feed(stream, 25, level=0)  # 0.5 s before speech: only 0.3 s of it is kept
    stream.speech_started()
    await feed(stream, 50)  # 1 s of speech
    stream.speech_paused()
    await feed(stream, 15, level=0)  # 0.3 s quiet: a guess starts after 0.16 s
    if resume:
        stream.speech_resumed()
        await feed(stream, 25)  # 0.5 s more speech
        stream.speech_paused()
        await feed(stream, 25, level=0)  # the 0.5 s turn-ending silence
    else:
        await feed(stream, 10, level=0)  # the rest of the 0.5 s turn-ending silence
    ended_at = loop.time()
    stream.speech_ended()
    transcript, at = await results.get()
    await stream.aclose()
    reader.cancel()
    return transcript, at - ended_at


def test_without_speculation_the_final_waits_for_the_whole_transcription() -> None:
    stt = CountingSTT(latency=0.4, speculation_delay=None)
    transcript, delay = run_virtual(lambda: one_utterance(stt))
    assert abs(delay - 0.4) < 1e-6
    assert transcript == Transcript("1.80s", final=True, complete=True)  # 0.3 + 1.0 + 0.5
    assert stt.calls == [1.8]


def test_speculation_answers_the_moment_the_silence_completes() -> None:
    stt = CountingSTT(latency=0.3, speculation_delay=0.15)
    transcript, delay = run_virtual(lambda: one_utterance(stt))
    assert delay < 1e-6  # the guess finished inside the 0.5 s silence
    assert transcript.text == "1.46s"  # prefix 0.3 + speech 1.0 + 0.16 s of quiet
    assert stt.calls == [1.46]


def test_a_guess_the_person_talks_past_is_discarded() -> None:
    stt = CountingSTT(latency=0.3, speculation_delay=0.15)
    transcript, delay = run_virtual(lambda: one_utterance(stt, resume=True))
    # The first guess ran (it was already running) but the answer is the second one,
    # which covers the speech that came after the first.
    assert stt.calls[0] == 1.46
    assert transcript.text == f"{stt.calls[-1]:.2f}s"
    assert stt.calls[-1] > 2.0
    assert delay < 1e-6


def test_an_endless_utterance_keeps_only_its_last_minute() -> None:
    """A caller sending loud noise for as long as it likes: the capture is bounded (it kept
    every frame, 115 MB an hour at 16 kHz) and the transcriber gets the latest minute."""

    async def scenario() -> None:
        stt = CountingSTT(latency=0.01, speculation_delay=None)
        stream = UtteranceSTTStream(stt, TurnTakingPolicy(prefix_padding_ms=300))
        heard: list[Transcript] = []

        async def read() -> None:
            async for transcript in stream:
                heard.append(transcript)

        reader = asyncio.create_task(read())
        stream.speech_started()
        for _ in range(int(150 / FRAME)):  # two and a half minutes of "speech"
            stream.push_audio(frame(1))
        assert stream._capture_bytes <= 2 * RATE * MAX_CAPTURE_S
        stream.speech_ended()
        await asyncio.sleep(0.1)
        await stream.aclose()
        await reader
        assert stt.calls == [MAX_CAPTURE_S]
        assert [t.text for t in heard] == [f"{MAX_CAPTURE_S:.2f}s"]

    run_virtual(scenario)
