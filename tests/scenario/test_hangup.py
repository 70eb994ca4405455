"""Invariant 2: a hangup stops audio at once and closes the session within its deadline."""

from __future__ import annotations

from parley.events import SessionEnded
from parley.testing.fakes import FakeLLM, FakeTTS, Fault, FaultKind
from parley.testing.memory_transport import HangUp, Say, Silence, Step, Wait
from tests.conftest import Measure

from .harness import agent_started_speaking, converse

REPLY = "This is the first sentence of a long answer. And here is more that never comes."


def test_hangup_while_speaking_with_llm_and_tts_hanging(measured: Measure) -> None:
    llm = FakeLLM([REPLY], faults=[Fault(FaultKind.HANG, after=9)], close_delay=float("inf"))
    tts = FakeTTS(faults=[Fault(FaultKind.HANG, after=15)], close_delay=float("inf"))
    steps: list[Step] = [
        Silence(0.3),
        Say("tell me something", 1.0),
        Wait(agent_started_speaking(1), then=1.0),
        HangUp(),
    ]
    call = converse(steps, llm=llm, tts=tts)

    hangup_at = call.caller.step_start(3)
    frames = call.sent_times("resp_1")
    assert frames, "the agent was speaking"
    assert max(frames) <= hangup_at  # outbound audio stopped at once
    heard = call.transport.listener.heard
    assert max(p.at for p in heard) <= hangup_at  # the listener's buffer was cleared too
    assert call.transport.clears[-1] == hangup_at

    closed_at = call.session.closed_at
    assert closed_at is not None
    deadline = call.session.config.close_deadline_s
    assert closed_at - hangup_at <= deadline + 1e-6, f"closed after {closed_at - hangup_at:.3f} s"
    assert closed_at - hangup_at >= deadline / 2  # the hung providers did need the deadline
    assert call.tasks_left == set()  # no task left behind
    assert call.session.supervisor.abandoned == []
    assert [e.reason for _, e in call.events(SessionEnded)] == ["caller hung up"]
    assert call.transport.closed
    # The history says what was heard, marked as cut short.
    last = call.session.conversation.history[-1]
    assert last.role == "assistant" and last.interrupted
    assert last.content.startswith("This is the")
    measured("hangup: last agent frame sent after hangup", max(frames) - hangup_at, "s")
    measured("hangup: session fully closed after (LLM, TTS hanging)", closed_at - hangup_at, "s")
    measured("hangup: tasks left", len(call.tasks_left), "tasks")


def test_hangup_when_idle_closes_at_once() -> None:
    call = converse([Silence(0.5), HangUp()])
    closed_at = call.session.closed_at
    assert closed_at is not None
    assert closed_at - call.caller.step_start(1) < 0.01
    assert call.tasks_left == set()
