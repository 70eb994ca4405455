"""Invariant 6: turn-taking follows the named policy settings, and nothing else."""

from __future__ import annotations

from parley.conversation import TurnTakingPolicy
from parley.events import AgentPaused, UserSpeechStopped
from parley.session import SessionConfig
from parley.testing.fakes import FakeLLM
from parley.testing.memory_transport import HangUp, Noise, Say, Silence, Step, Wait

from .harness import FRAME, agent_started_speaking, converse


def test_rapid_segments_within_the_merge_gap_make_one_llm_call() -> None:
    steps: list[Step] = [
        Silence(0.3),
        Say("I want", 0.6),
        Silence(0.6),  # ends the turn after 0.5 s; speech resumes inside the 0.2 s merge gap
        Say("a pizza", 0.8),
        Silence(3.0),
        HangUp(),
    ]
    call = converse(steps)
    assert len(call.llm.calls) == 1
    assert call.llm.calls[0][-1].content == "I want a pizza"


def test_segments_beyond_the_merge_gap_are_separate_turns() -> None:
    steps: list[Step] = [
        Silence(0.3),
        Say("I want", 0.6),
        Silence(0.8),  # 0.5 s silence + 0.2 s merge gap have passed: the turn is answered
        Say("a pizza", 0.8),
        Silence(4.0),
        HangUp(),
    ]
    call = converse(steps)
    assert [c[-1].content for c in call.llm.calls] == ["I want", "I want a pizza"]
    # The second segment came before any agent audio was heard, so the first reply went
    # unheard, was removed, and the person's words were joined into one turn.


def test_min_silence_sets_when_the_turn_ends() -> None:
    for min_silence_ms in (500, 900):
        policy = TurnTakingPolicy(min_silence_ms=min_silence_ms)
        steps: list[Step] = [Silence(0.3), Say("hello", 1.0), Silence(3.0), HangUp()]
        call = converse(steps, config=SessionConfig(policy=policy))
        decided_at, event = call.events(UserSpeechStopped)[0]
        assert abs(event.at - 1.3) < 1e-6  # the last voiced audio
        assert abs(decided_at - event.at - min_silence_ms / 1000) < FRAME


def test_sounds_shorter_than_min_interruption_do_not_pause_the_agent() -> None:
    reply = " ".join(["word"] * 16) + "."
    steps: list[Step] = [
        Silence(0.3),
        Say("talk to me", 1.0),
        Wait(agent_started_speaking(1), then=1.0),
        Noise(0.06),  # a click: 60 ms, under the 80 ms minimum
        Silence(0.5),
        Noise(0.2),  # long enough: pauses
        Silence(4.0),
        HangUp(),
    ]
    call = converse(steps, llm=FakeLLM([reply]))
    paused = call.events(AgentPaused)
    assert len(paused) == 1
    assert paused[0][0] > call.caller.step_start(5)
