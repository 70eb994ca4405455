"""Streaming over whole-utterance STT: prefix padding, and speculation in the silence."""

from __future__ import annotations

import asyncio

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import Transcript
from parley.providers.utterance_stt import (
    MAX_CAPTURE_S,
    MAX_QUEUED_RUNS,
    UtteranceSTT,
    UtteranceSTTStream,
)
from tests.scenario.harness import run_virtual

RATE = 16000
FRAME = 0.02


class CountingSTT(UtteranceSTT):
    """Takes `latency` per call; its text says how much audio it was given."""

    def __init__(
        self, latency: float, speculation_delay: float | None, partials: float | None = None
    ) -> None:
        self.latency = latency
        self.speculation_delay = speculation_delay
        self.paused_partial_delay = partials
        self.calls: list[float] = []
        self.running = self.most_running = 0

    async def transcribe(self, audio: AudioFrame) -> str:
        self.calls.append(audio.duration)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        await asyncio.sleep(self.latency)
        self.running -= 1
        return f"{audio.duration:.2f}s"


def listening(
    stt: CountingSTT,
) -> tuple[UtteranceSTTStream, list[Transcript], asyncio.Task[None]]:
    """A stream over `stt` (300 ms of prefix padding) and a task collecting its transcripts."""
    stream = UtteranceSTTStream(stt, TurnTakingPolicy(prefix_padding_ms=300))
    heard: list[Transcript] = []

    async def read() -> None:
        async for transcript in stream:
            heard.append(transcript)

    return stream, heard, asyncio.create_task(read())


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
        stream, heard, reader = listening(stt)
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


def test_a_transcriber_that_falls_behind_holds_a_bounded_queue() -> None:
    """Speech faster than a slow, shared model transcribes it: the queued runs (each a copy
    of its audio) stay bounded, stale guesses go first, and every utterance still gets its
    complete transcript, the oldest ones with no words."""

    async def scenario() -> None:
        stt = CountingSTT(latency=2.0, speculation_delay=0.04)
        stream, heard, reader = listening(stt)
        most_queued = 0
        for _ in range(20):  # 20 utterances, each with pauses the person talks past
            stream.speech_started()
            for _ in range(5):
                await feed(stream, 5)
                stream.speech_paused()
                await feed(stream, 3, level=0)  # a guess starts
                stream.speech_resumed()
                most_queued = max(most_queued, sum(j.audio is not None for j in stream._jobs))
            stream.speech_ended()
            most_queued = max(most_queued, sum(j.audio is not None for j in stream._jobs))
        await asyncio.sleep(20 * stt.latency)  # more than the runs left can take
        await stream.aclose()
        await reader
        assert most_queued <= MAX_QUEUED_RUNS
        finals = [t for t in heard if t.complete]
        assert len(finals) == 20  # each utterance answered once
        assert stream.shed_utterances == sum(not t.text for t in finals) > 0
        assert finals[-1].text  # the newest speech is transcribed
        assert len(stt.calls) < 20 + 5  # stale guesses were dropped, not run

    run_virtual(scenario)


async def paused_utterance(stt: CountingSTT, *, unpause_at: int | None = None) -> list[Transcript]:
    """The agent is paused: 0.3 s of lead-in, 1 s of speech, then the turn-ending silence."""
    stream, heard, reader = listening(stt)
    await feed(stream, 15, level=0)
    stream.speech_started()
    stream.agent_paused(True)
    for i in range(50):
        if i == unpause_at:
            stream.agent_paused(False)
        await feed(stream, 1)
    stream.speech_paused()
    await feed(stream, 25, level=0)
    stream.speech_ended()
    await asyncio.sleep(2.0)
    await stream.aclose()
    await reader
    return heard


def test_while_paused_the_speech_so_far_comes_as_partials_and_the_pause_gives_the_final() -> None:
    stt = CountingSTT(latency=0.1, speculation_delay=0.15, partials=0.2)
    heard = run_virtual(lambda: paused_utterance(stt))
    # First at 0.2 s of speech, then every 0.3 s (0.3 s of lead-in in each), and at the
    # pause at once: that run is the speculative guess, so the final costs no run.
    assert stt.calls == [0.5, 0.8, 1.1, 1.3]
    assert heard == [
        *(Transcript(f"{s:.2f}s", final=False) for s in (0.5, 0.8, 1.1, 1.3)),
        Transcript("1.30s", final=True, complete=True),
    ]


def test_partials_run_one_at_a_time_on_the_newest_audio() -> None:
    stt = CountingSTT(latency=0.45, speculation_delay=0.15, partials=0.2)
    heard = run_virtual(lambda: paused_utterance(stt))
    assert stt.most_running == 1
    # 0.2 s in, then the first frame after it finished (0.66 s), then the pause's guess,
    # which waited for it (nothing else queued meanwhile) and is the final.
    assert stt.calls == [0.5, 0.96, 1.3]
    assert heard[-1] == Transcript("1.30s", final=True, complete=True)


def test_no_partials_once_the_agent_goes_on() -> None:
    stt = CountingSTT(latency=0.1, speculation_delay=0.15, partials=0.2)
    heard = run_virtual(lambda: paused_utterance(stt, unpause_at=20))
    # One partial at 0.2 s; resumed at 0.4 s: the rest is speculation as without partials.
    assert stt.calls == [0.5, 1.46]
    assert heard == [
        Transcript("0.50s", final=False),
        Transcript("1.46s", final=True, complete=True),
    ]
