"""Providers fail: the session reports it, goes on, and the next turn works."""

from __future__ import annotations

import pytest

from parley.events import AgentResponseDone
from parley.testing.fakes import FakeLLM, FakeSTT, FakeTTS, Fault, FaultKind
from parley.testing.memory_transport import HangUp, Say, Silence, Step, stt_script

from .harness import converse

STEPS: list[Step] = [
    Silence(0.3),
    Say("first question", 1.0),
    Silence(3.0),
    Say("second question", 1.0),
    Silence(3.0),
    HangUp(),
]
FAILURES = [FaultKind.RAISE, FaultKind.DISCONNECT]


def answered(call: object, response_id: str) -> bool:
    from .harness import Call

    assert isinstance(call, Call)
    done = {e.response_id: e for _, e in call.events(AgentResponseDone)}
    return response_id in done and bool(call.sent_times(response_id))


@pytest.mark.parametrize("kind", FAILURES)
def test_stt_failure_is_reported_and_the_next_turn_works(kind: FaultKind) -> None:
    stt = FakeSTT(stt_script(STEPS), partial_interval=None, faults=[Fault(kind, call=1)])
    call = converse(STEPS, stt=stt)
    assert "stt_failed" in call.errors()
    assert stt.streams_opened == 2  # the failed stream was replaced
    assert [c[-1].content for c in call.llm.calls] == ["second question"]
    assert answered(call, "resp_1")
    assert len(call.stt.arrivals) == call.caller.frames_sent  # no frame was lost meanwhile


@pytest.mark.parametrize("kind", FAILURES)
def test_llm_failure_mid_stream_is_reported_and_the_next_turn_works(kind: FaultKind) -> None:
    llm = FakeLLM(["Let me think about that for a moment.", "Second answer."],
                  faults=[Fault(kind, call=1, after=3)])  # fmt: skip
    call = converse(STEPS, llm=llm)
    assert "llm_failed" in call.errors()
    history = call.session.conversation.history
    assert history[2].content == "Let me think"  # what came before the failure was spoken
    assert answered(call, "resp_2")
    assert history[-1].content == "Second answer."


@pytest.mark.parametrize("kind", FAILURES)
def test_tts_failure_is_reported_and_the_next_turn_works(kind: FaultKind) -> None:
    tts = FakeTTS(faults=[Fault(kind, call=1, after=2)])
    call = converse(STEPS, llm=FakeLLM(["A first answer that fails.", "Second answer."]), tts=tts)
    assert "tts_failed" in call.errors()
    assert len(call.sent_times("resp_1")) == 10  # the two chunks that came were played
    assert answered(call, "resp_2")
    assert call.session.conversation.history[-1].content == "Second answer."
    assert call.tasks_left == set()
