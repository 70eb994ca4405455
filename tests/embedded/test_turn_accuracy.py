"""The turn detector against the plain silence: premature endpoints and endpoint delay.

The whole labelled set (tests/data/turns: 30 finished turns, 30 with a 400-1,500 ms pause
mid-sentence) is replayed through the real Silero VAD and the real Smart Turn v3.2 with the
conversation's endpoint rules (parley/testing/turn_accuracy.py): about 15-30 s on 2 shared
cores. scripts/turn_accuracy.py prints the same for more thresholds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parley.conversation import TurnTakingPolicy
from parley.providers.local.silero import SileroVAD
from parley.providers.local.smart_turn import SmartTurn
from parley.testing.turn_accuracy import (
    HEADER,
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
) -> list[Outcome]:
    return [replay(audio, clip, policy, vad, detector) for clip, audio in clips]


def test_the_set_is_labelled_as_the_issue_asks(clips: list[tuple[Clip, np.ndarray]]) -> None:
    finished = [c for c, _ in clips if c.label == "finished"]
    unfinished = [c for c, _ in clips if c.label == "unfinished"]
    assert len(finished) == 30 and len(unfinished) == 30
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
    the 500 ms silence; the endpoint delay on finished turns, p50/p95, printed."""
    detector = SmartTurn()
    try:
        silence = summarize("silence 500 ms", run(clips, TurnTakingPolicy(), silero, None))
        policy = TurnTakingPolicy(turn_detector="smart-turn")
        smart = summarize("smart-turn (default)", run(clips, policy, silero, detector))
    finally:
        detector.close()
    print(f"\n{HEADER}\n{silence.row()}\n{smart.row()}")
    assert smart.premature <= silence.premature
    assert smart.delays and silence.delays
