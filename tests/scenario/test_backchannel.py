"""Invariant 5: pause, then decide. Backchannels and noise resume exactly; words interrupt."""

from __future__ import annotations

import pytest

from parley.events import AgentPaused, AgentResponseDone, AgentResumed, UserSpeechStopped
from parley.testing.fakes import FakeLLM, FakeSTT
from parley.testing.memory_transport import HangUp, Noise, Say, Silence, Step, Wait, stt_script
from tests.conftest import Measure

from .harness import FRAME, agent_started_speaking, contiguous, converse

REPLY = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen."  # noqa: E501
REPLY_SAMPLES = 16 * 4000  # 16 words x 0.25 s at 16 kHz


@pytest.mark.parametrize("backchannel", ["uh-huh", "okay", "right", "mm-hmm", "yeah"])
def test_backchannel_resumes_from_the_paused_position(backchannel: str, measured: Measure) -> None:
    steps: list[Step] = [
        Silence(0.3),
        Say("explain something", 1.0),
        Wait(agent_started_speaking(1), then=1.0),
        Say(backchannel, 0.4),
        Silence(6.0),
        HangUp(),
    ]
    call = converse(steps, llm=FakeLLM([REPLY]))

    assert len(call.llm.calls) == 1  # no new LLM call
    paused = call.events(AgentPaused)
    resumed = call.events(AgentResumed)
    assert len(paused) == 1 and len(resumed) == 1
    assert resumed[0][0] > paused[0][0]
    playing = [p.at for p in call.transport.listener.heard]
    assert not [t for t in playing if paused[0][0] < t < resumed[0][0]]  # silent meanwhile
    heard = call.transport.listener.heard_samples("resp_1")
    assert len(heard) == REPLY_SAMPLES  # nothing lost, nothing repeated...
    assert contiguous(heard)  # ...and in order
    done = [e for _, e in call.events(AgentResponseDone)]
    assert [d.status for d in done] == ["completed"]
    assert call.session.conversation.history[-1].content == REPLY
    assert call.session.turns[0].pauses == 1
    measured(f"backchannel {backchannel!r}: samples lost or repeated",
             abs(len(heard) - REPLY_SAMPLES), "samples")  # fmt: skip
    measured(f"backchannel {backchannel!r}: agent paused for",
             (resumed[0][0] - paused[0][0]) * 1000, "ms")  # fmt: skip


def test_noise_without_words_resumes_after_the_false_interruption_timeout(
    measured: Measure,
) -> None:
    steps: list[Step] = [
        Silence(0.3),
        Say("explain something", 1.0),
        Wait(agent_started_speaking(1), then=1.0),
        Noise(0.3, transcript=None),  # the STT says nothing at all about it
        Silence(6.0),
        HangUp(),
    ]
    call = converse(steps, llm=FakeLLM([REPLY]))

    timeout = call.session.config.policy.false_interruption_timeout_ms / 1000
    speech_end_decided = [t for t, _ in call.events(UserSpeechStopped)][1]
    resumed_at = call.events(AgentResumed)[0][0]
    assert abs(resumed_at - speech_end_decided - timeout) < FRAME
    measured("noise, no words: resumed after the speech ended by",
             (resumed_at - speech_end_decided) * 1000, "ms")  # fmt: skip
    heard = call.transport.listener.heard_samples("resp_1")
    assert len(heard) == REPLY_SAMPLES and contiguous(heard)
    assert len(call.llm.calls) == 1


def test_noise_with_an_empty_transcript_resumes_as_soon_as_stt_answers() -> None:
    stt = FakeSTT(final_latency=0.15)
    steps: list[Step] = [
        Silence(0.3),
        Say("explain something", 1.0),
        Wait(agent_started_speaking(1), then=1.0),
        Noise(0.3, transcript=""),
        Silence(6.0),
        HangUp(),
    ]
    stt.add_utterances(stt_script(steps))
    call = converse(steps, stt=stt, llm=FakeLLM([REPLY]))

    speech_end_decided = [t for t, _ in call.events(UserSpeechStopped)][1]
    resumed_at = call.events(AgentResumed)[0][0]
    assert abs(resumed_at - speech_end_decided - 0.15) < FRAME
    heard = call.transport.listener.heard_samples("resp_1")
    assert len(heard) == REPLY_SAMPLES and contiguous(heard)


def test_real_words_cancel_and_the_agent_answers_the_merged_turn() -> None:
    steps: list[Step] = [
        Silence(0.3),
        Say("explain something", 1.0),
        Wait(agent_started_speaking(1), then=1.0),
        Say("wait", 0.4),
        Silence(0.6),  # past the turn-ending silence but within the merge gap
        Say("what about tomorrow", 1.0),
        Silence(4.0),
        HangUp(),
    ]
    call = converse(steps, llm=FakeLLM([REPLY, "Tomorrow works."]))

    assert len(call.llm.calls) == 2  # the original and one for the merged interruption
    second = call.llm.calls[1]
    assert second[-1].role == "user"
    assert second[-1].content == "wait what about tomorrow"
    assert second[-2].role == "assistant" and second[-2].interrupted
    done = {e.response_id: e.status for _, e in call.events(AgentResponseDone)}
    assert done == {"resp_1": "interrupted", "resp_2": "completed"}
    assert call.events(AgentResumed) == []
