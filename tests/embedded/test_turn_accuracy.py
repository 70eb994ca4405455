"""The turn detector against the plain silence: premature endpoints and endpoint delay.

The whole labelled set (tests/data/turns: 40 finished turns, 40 with a 400-1,500 ms pause
mid-sentence; Piper and espeak-ng voices) is replayed through the real Silero VAD and the
real Smart Turn v3.2 with the conversation's endpoint rules (parley/testing/turn_accuracy.py),
and three real-time calls check the replay against a Session: about 50-60 s on 2 shared
cores. scripts/turn_accuracy.py prints the same for more thresholds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from parley.audio.wavfile import read_wav
from parley.conversation import TurnTakingPolicy
from parley.events import UserSpeechStopped
from parley.providers.local.silero import SileroVAD
from parley.providers.local.smart_turn import SmartTurn
from parley.session import Providers, Session, SessionConfig
from parley.testing.fakes import FakeLLM, FakeSTT, FakeTTS
from parley.testing.memory_transport import (
    HangUp,
    MemoryTransport,
    Play,
    ScriptedCaller,
    Silence,
    Step,
)
from parley.testing.turn_accuracy import (
    HEADER,
    Ask,
    Clip,
    Outcome,
    clip_audio,
    load_clips,
    replay,
    summarize,
)

DATA = Path(__file__).parents[1] / "data" / "turns"


@pytest.fixture(scope="module")
def clips() -> list[tuple[Clip, np.ndarray]]:
    return [(clip, clip_audio(DATA, clip)) for clip in load_clips(DATA)]


def run(
    clips: list[tuple[Clip, np.ndarray]],
    policy: TurnTakingPolicy,
    vad: SileroVAD,
    detector: SmartTurn | None,
    answers: dict[tuple[str, float], Ask] | None = None,
    latency: float | None = None,
) -> list[Outcome]:
    return [replay(audio, clip, policy, vad, detector, answers, latency) for clip, audio in clips]


def test_the_set_is_labelled_as_the_issue_asks(clips: list[tuple[Clip, np.ndarray]]) -> None:
    finished = [c for c, _ in clips if c.label == "finished"]
    unfinished = [c for c, _ in clips if c.label == "unfinished"]
    piper = [c for c in finished + unfinished if c.voice == "piper-joe"]
    assert len(finished) == 40 and len(unfinished) == 40 and len(piper) == 60
    for clip in unfinished:
        assert clip.pause_start is not None and clip.pause_end is not None
        assert 0.399 <= clip.pause_end - clip.pause_start <= 1.501
        assert clip.pause_end < clip.speech_end


def test_the_silence_policy_ends_a_turn_500_ms_after_speech_and_jumps_into_long_pauses(
    clips: list[tuple[Clip, np.ndarray]], silero: SileroVAD
) -> None:
    """The replay's own check: 500 ms of silence ends every pause of 600 ms or more, and no
    pause under 450 ms; a finished turn ends a little over 500 ms after its last sound."""
    outcomes = run(clips, TurnTakingPolicy(), silero, None)
    for outcome in outcomes:
        clip = outcome.clip
        if clip.label == "unfinished":
            assert clip.pause_start is not None and clip.pause_end is not None
            pause = clip.pause_end - clip.pause_start
            if pause >= 0.6:
                assert outcome.in_pause, clip.file
            if pause < 0.45:
                assert not outcome.premature, clip.file
        else:
            assert outcome.delay is not None and 0.45 <= outcome.delay <= 0.7, clip.file


def test_the_detector_jumps_into_pauses_no_more_often_than_the_silence(
    clips: list[tuple[Clip, np.ndarray]], silero: SileroVAD
) -> None:
    """Issue 13's bar: premature endpoints on the unfinished set no more frequent than with
    the 500 ms silence; the endpoint delay on finished turns, p50/p95, printed.

    Asserted with the model's answers taken as arriving 100 ms after the ask, so that a
    loaded CI machine (an answer later than 300 ms leaves the turn to the silence timer)
    cannot decide it; the row with the time measured here is printed beside it."""
    detector = SmartTurn()
    answers: dict[tuple[str, float], Ask] = {}
    try:
        silence = summarize("silence 500 ms", run(clips, TurnTakingPolicy(), silero, None))
        policy = TurnTakingPolicy(turn_detector="smart-turn")
        measured = run(clips, policy, silero, detector, answers)
        fixed = run(clips, policy, silero, detector, answers, latency=0.1)
    finally:
        detector.close()
    smart = summarize("smart-turn (default), answers at 100 ms", fixed)
    as_measured = summarize("smart-turn (default), answers as measured", measured)
    print(f"\n{HEADER}\n{silence.row()}\n{smart.row()}\n{as_measured.row()}")
    assert smart.premature <= silence.premature
    assert smart.delays and silence.delays


def speech_stops_in_a_call(
    file: str, policy: TurnTakingPolicy, vad: SileroVAD, detector: SmartTurn | None
) -> int:
    """A real-time call (real Silero, real Smart Turn, scripted STT/LLM/TTS) in which the
    caller says the clip: how many times the person's speech was ended."""
    providers = Providers(vad, FakeSTT(), FakeLLM(["Sure."]), FakeTTS(), detector)
    steps: list[Step] = [Silence(0.3), Play(read_wav(DATA / file)), Silence(2.6), HangUp()]

    async def call() -> int:
        transport = MemoryTransport(output_sample_rate=16000)
        session = Session(transport, providers, SessionConfig(policy=policy))
        async with asyncio.TaskGroup() as group:
            group.create_task(session.run())
            group.create_task(ScriptedCaller(transport, steps).run())
        return len(transport.events_of(UserSpeechStopped))

    return asyncio.run(call())


def test_the_replay_agrees_with_a_real_call(
    clips: list[tuple[Clip, np.ndarray]], silero: SileroVAD
) -> None:
    """The replay stands for the session: two clips with long pauses (so the merge gap cannot
    join the parts), whose detector answers are far from the threshold (0.02-0.06 and 0.98
    when measured), said in real calls: a premature endpoint is a second end of speech."""
    detector = SmartTurn()
    silence, smart = TurnTakingPolicy(), TurnTakingPolicy(turn_detector="smart-turn")
    by_file = {clip.file: (clip, audio) for clip, audio in clips}
    try:
        calls = [
            ("unfinished_27.wav", silence, None),
            ("unfinished_27.wav", smart, detector),
            ("unfinished_29.wav", smart, detector),
        ]
        for file, policy, used in calls:
            clip, audio = by_file[file]
            replayed = replay(audio, clip, policy, silero, used)
            stops = speech_stops_in_a_call(file, policy, silero, used)
            print(
                f"\n{file} {policy.turn_detector}: replay premature {replayed.premature}, "
                f"call: {stops} ends of speech"
            )
            assert stops == 1 + replayed.premature
    finally:
        detector.close()
