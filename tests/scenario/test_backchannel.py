"""Invariant 5: pause, then decide. Backchannels and noise resume exactly; words interrupt."""

from __future__ import annotations

import pytest

from parley.conversation import TurnTakingPolicy
from parley.events import AgentPaused, AgentResponseDone, AgentResumed, UserSpeechStopped
from parley.session import SessionConfig
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


def _backchannel_call(policy: TurnTakingPolicy, partials: float | None) -> tuple[float, float]:
    """A 0.4 s "yeah" over the agent: (pause to resume, last voiced audio to resume) in s."""
    steps: list[Step] = [
        Silence(0.3),
        Say("explain something", 1.0),
        Wait(agent_started_speaking(1), then=1.0),
        Say("yeah", 0.4),
        Silence(6.0),
        HangUp(),
    ]
    stt = FakeSTT(stt_script(steps), partial_interval=partials)  # final 150 ms after the end
    call = converse(steps, stt=stt, llm=FakeLLM([REPLY]), config=SessionConfig(policy=policy))
    assert len(call.llm.calls) == 1
    heard = call.transport.listener.heard_samples("resp_1")
    assert len(heard) == REPLY_SAMPLES and contiguous(heard)
    [(paused, _)], [(resumed, _)] = call.events(AgentPaused), call.events(AgentResumed)
    last_voiced = call.events(UserSpeechStopped)[1][1].at
    return resumed - paused, resumed - last_voiced


@pytest.mark.parametrize(("stt", "partials"), [("streaming", 0.1), ("whole-utterance", None)])
def test_a_backchannel_costs_little_silence_after_the_words(
    stt: str, partials: float | None, measured: Measure
) -> None:
    """Decided at paused_decision_silence_ms: from the partial when the STT gives one, else
    from the final it gives at once because the speech ended there."""
    policy = TurnTakingPolicy()
    before = TurnTakingPolicy(paused_decision_silence_ms=policy.min_silence_ms)  # as it was
    old_pause, old_after = _backchannel_call(before, partials)
    pause, after = _backchannel_call(policy, partials)
    decide = policy.paused_decision_silence_ms / 1000
    expected = decide if partials else decide + 0.15  # + the fake's final latency
    assert abs(after - expected) <= 2 * FRAME
    assert after <= 0.3 + FRAME < old_after
    assert old_pause - pause > 0.3
    for name, value in [("before", old_after), ("now", after)]:
        measured(f"backchannel, {stt} STT: last voiced audio to resume ({name})",
                 value * 1000, "ms")  # fmt: skip
    for name, value in [("before", old_pause), ("now", pause)]:
        measured(f"backchannel, {stt} STT: agent paused for, 0.4 s 'yeah' ({name})",
                 value * 1000, "ms")  # fmt: skip


@pytest.mark.parametrize("partials", [0.1, None])
@pytest.mark.parametrize(("first", "rest"), [("yeah", "but wait"), ("uh huh", "actually stop")])
def test_words_that_start_like_a_backchannel_still_interrupt(
    first: str, rest: str, partials: float | None
) -> None:
    """Said in one breath, or with a short pause after the backchannel-like start: the
    agent stops, and the words are answered."""
    for gap in (0.0, 0.25):
        said: list[Step] = (
            [Say(f"{first} {rest}", 1.2)] if not gap else [Say(first, 0.4), Silence(gap),
                                                          Say(rest, 0.6)]
        )  # fmt: skip
        steps: list[Step] = [
            Silence(0.3),
            Say("explain something", 1.0),
            Wait(agent_started_speaking(1), then=1.0),
            *said,
            Silence(4.0),
            HangUp(),
        ]
        stt = FakeSTT(stt_script(steps), partial_interval=partials)
        call = converse(steps, stt=stt, llm=FakeLLM([REPLY, "Sure."]))
        done = {e.response_id: e.status for _, e in call.events(AgentResponseDone)}
        assert done == {"resp_1": "interrupted", "resp_2": "completed"}, (gap, partials)
        assert rest in call.llm.calls[1][-1].content
        assert len(call.transport.listener.heard_samples("resp_1")) < REPLY_SAMPLES
