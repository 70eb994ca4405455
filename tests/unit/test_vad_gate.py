"""The speech gate turns probabilities into decisions exactly as the policy says."""

from __future__ import annotations

from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import VADEventKind
from parley.providers.vad_gate import SpeechGate

RATE = 16000
WINDOW = 512  # 32 ms


def run(probabilities: list[float], policy: TurnTakingPolicy) -> list[tuple[int, str, float]]:
    gate = SpeechGate(policy, RATE)
    events = []
    for index, p in enumerate(probabilities):
        for event in gate.update(p, WINDOW):
            events.append((index, event.kind.value, round(event.offset, 3)))
    return events


def test_onset_needs_min_interruption_and_end_needs_min_silence() -> None:
    policy = TurnTakingPolicy(min_interruption_ms=64, min_silence_ms=320)
    probs = [0.0] * 5 + [0.9] * 20 + [0.0] * 12
    events = run(probs, policy)
    assert events[0] == (6, "start", round(5 * WINDOW / RATE, 3))  # 2 windows = 64 ms
    assert events[1] == (25, "pause", round(25 * WINDOW / RATE, 3))
    assert events[2] == (34, "end", round(25 * WINDOW / RATE, 3))  # 10 windows = 320 ms


def test_a_click_shorter_than_min_interruption_is_not_speech() -> None:
    policy = TurnTakingPolicy(min_interruption_ms=100)
    assert run([0.0, 0.9, 0.9, 0.0, 0.0, 0.9, 0.0], policy) == []


def test_hysteresis_keeps_soft_syllables_inside_speech() -> None:
    policy = TurnTakingPolicy(vad_threshold=0.5, min_interruption_ms=0, min_silence_ms=200)
    probs = [0.9, 0.4, 0.38, 0.9, 0.2, 0.9]  # 0.4 is above the 0.35 release threshold
    kinds = [kind for _, kind, _ in run(probs, policy)]
    assert kinds == ["start", "pause", "resume"]


def test_pause_and_resume_are_hints_inside_one_turn() -> None:
    policy = TurnTakingPolicy(min_interruption_ms=0, min_silence_ms=500)
    probs = [0.9] * 5 + [0.0] * 5 + [0.9] * 5 + [0.0] * 16
    kinds = [kind for _, kind, _ in run(probs, policy)]
    assert kinds == ["start", "pause", "resume", "pause", "end"]
    assert VADEventKind.PAUSE.value == "pause"
