"""Semantic end-of-turn and preemptive answers, on the virtual clock with scripted fakes."""

from __future__ import annotations

import pytest

from parley.conversation import TurnTakingPolicy
from parley.events import AgentResponseStarted, AgentTranscript
from parley.session import SessionConfig
from parley.testing.fakes import FakeLLM, FakeSTT, FakeTTS, FakeTurnDetector
from parley.testing.memory_transport import HangUp, Say, Silence, Step, stt_script
from parley.timing import TurnTimings
from parley.transports.browser.translate import turn_metrics
from parley.types import ChatMessage

from .harness import FRAME, Call, converse

ONE_TURN: list[Step] = [Silence(0.3), Say("what time is it", 1.0), Silence(5.0), HangUp()]


def call(
    policy: TurnTakingPolicy,
    detector: FakeTurnDetector | None = None,
    steps: list[Step] = ONE_TURN,
    stt: FakeSTT | None = None,
    llm_latency: float = 0.2,
) -> Call:
    return converse(
        steps,
        stt=stt or FakeSTT(stt_script(steps), final_latency=0.15, words_per_second=10),
        llm=FakeLLM(["It is noon."], first_token_latency=llm_latency),
        tts=FakeTTS(first_byte_latency=0.01 if llm_latency < 0.05 else 0.05),
        config=SessionConfig(policy=policy),
        turn=detector,
    )


def only_turn(done: Call) -> TurnTimings:
    (turn,) = done.session.turns
    assert turn.status == "completed"
    return turn


def endpoint_delay(turn: TurnTimings) -> float:
    assert turn.endpoint_decided is not None and turn.speech_ended is not None
    return turn.endpoint_decided - turn.speech_ended


DETECTOR = TurnTakingPolicy(turn_detector="fake")


def test_complete_ends_the_turn_at_the_check_silence_not_min_silence() -> None:
    detector = FakeTurnDetector(0.9, latency=0.05)
    turn = only_turn(call(DETECTOR, detector))
    # Asked at 200 ms of silence, answered 50 ms later: the turn ends then, not at 500 ms.
    assert endpoint_delay(turn) == pytest.approx(0.25, abs=FRAME)
    assert turn.turn_verdict == "complete"
    assert detector.heard == [
        pytest.approx(1.0 + 0.2 + 0.3, abs=2 * FRAME)
    ]  # speech, pause, padding
    plain = only_turn(call(TurnTakingPolicy()))
    assert plain.voice_to_voice is not None and turn.voice_to_voice is not None
    assert plain.voice_to_voice - turn.voice_to_voice == pytest.approx(0.25, abs=FRAME)


def test_incomplete_waits_for_the_longest_silence() -> None:
    turn = only_turn(call(DETECTOR, FakeTurnDetector(0.2, latency=0.05)))
    assert endpoint_delay(turn) == pytest.approx(DETECTOR.turn_max_silence_ms / 1000, abs=FRAME)
    assert turn.turn_verdict == "incomplete"


def test_a_detector_that_raises_or_hangs_falls_back_to_the_silence_policy() -> None:
    for answer, verdict in ((RuntimeError("model gone"), "failed"), (None, "asked")):
        done = call(DETECTOR, FakeTurnDetector([answer], latency=0.05))
        turn = only_turn(done)
        assert endpoint_delay(turn) == pytest.approx(DETECTOR.min_silence_ms / 1000, abs=FRAME)
        assert turn.turn_verdict == verdict
        assert done.session.turn_detector_failures == (1 if verdict == "failed" else 0)
        assert done.tasks_left == set()


def test_a_policy_naming_a_detector_that_is_not_loaded_ends_turns_by_silence() -> None:
    done = call(DETECTOR, None)
    assert endpoint_delay(only_turn(done)) == pytest.approx(0.5, abs=FRAME)
    assert done.session.turn_detector_failures == 1


PREEMPTIVE = TurnTakingPolicy(turn_detector="fake", preemptive_response=True)


def test_a_preemptive_answer_is_used_and_voice_to_voice_drops() -> None:
    detector = FakeTurnDetector(0.9, latency=0.05)
    before = only_turn(call(DETECTOR, detector))
    done = call(PREEMPTIVE, FakeTurnDetector(0.9, latency=0.05))
    after = only_turn(done)
    assert after.preemptive and not before.preemptive and after.preemptive_dropped == 0
    assert before.voice_to_voice is not None and after.voice_to_voice is not None
    # The LLM started at the detector's 'complete' with the partial words, not at the merge
    # gap's end: the merge gap (200 ms) is saved.
    assert before.voice_to_voice - after.voice_to_voice >= 0.2 - FRAME
    assert "preemptive" in after.summary() and "turn=complete" in after.summary()
    assert turn_metrics(after).preemptive and not turn_metrics(before).preemptive
    assert after.llm_first_token is not None and after.committed is not None
    assert after.llm_first_token <= after.committed
    assert [e.response_id for _, e in done.events(AgentResponseStarted)] == ["resp_1"]
    assert done.session.conversation.history[-2:] == (
        ChatMessage("user", "what time is it"),
        ChatMessage("assistant", "It is noon."),
    )
    plain = only_turn(call(TurnTakingPolicy()))
    assert plain.voice_to_voice is not None
    print(
        f"\nvoice-to-voice (fakes, virtual clock): silence {plain.voice_to_voice * 1000:.0f} ms, "
        f"detector {before.voice_to_voice * 1000:.0f} ms, "
        f"detector + preemptive {after.voice_to_voice * 1000:.0f} ms"
    )


def test_a_preemptive_answer_is_dropped_unheard_when_the_person_goes_on() -> None:
    steps: list[Step] = [
        Silence(0.3),
        Say("I want", 0.6),
        Silence(0.35),  # 'complete' at 250 ms of silence; speech resumes in the merge gap
        Say("a pizza", 0.8),
        Silence(3.0),
        HangUp(),
    ]
    # A fast LLM and TTS: the dropped answer had audio and text ready before it was dropped.
    done = call(PREEMPTIVE, FakeTurnDetector(0.9, latency=0.05), steps, llm_latency=0.01)
    assert done.tts.segments[0] == "It is noon."
    turns = done.session.turns
    assert [t.status for t in turns] == ["completed"]
    assert turns[0].preemptive and turns[0].preemptive_dropped == 1
    dropped, used = done.llm.calls[0], done.llm.calls[1]
    assert dropped[-1] == ChatMessage("user", "I want")
    assert used[-1] == ChatMessage("user", "I want a pizza")
    # Nothing of the dropped answer was played, shown or kept.
    assert {f.response_id for _, f in done.transport.sent} == {"resp_2"}
    assert [e.response_id for _, e in done.events(AgentResponseStarted)] == ["resp_2"]
    assert {e.response_id for _, e in done.events(AgentTranscript)} == {"resp_2"}
    history = done.session.conversation.history
    assert [m.role for m in history] == ["system", "user", "assistant"]
    assert history[1].content == "I want a pizza"


def test_a_preemptive_answer_is_dropped_when_the_final_transcript_differs() -> None:
    steps: list[Step] = [Silence(0.3), Say("what time is it in Paris", 1.0), Silence(3.0), HangUp()]
    # Partials at 3 words a second show 'what time is' by the end of the speech.
    stt = FakeSTT(stt_script(steps), final_latency=0.15, words_per_second=3)
    done = call(PREEMPTIVE, FakeTurnDetector(0.9, latency=0.05), steps, stt, llm_latency=0.01)
    turn = only_turn(done)
    # The first was dropped; a second, given the final words, was held and then used.
    assert turn.preemptive and turn.preemptive_dropped == 1
    assert [c[-1].content for c in done.llm.calls] == ["what time is", "what time is it in Paris"]
    assert {f.response_id for _, f in done.transport.sent} == {"resp_2"}
    assert [e.response_id for _, e in done.events(AgentResponseStarted)] == ["resp_2"]
    assert done.session.conversation.history[-2].content == "what time is it in Paris"


def test_without_a_detector_the_preemptive_answer_starts_at_the_early_silence() -> None:
    policy = TurnTakingPolicy(preemptive_response=True)
    turn = only_turn(call(policy))
    plain = only_turn(call(TurnTakingPolicy()))
    assert turn.preemptive and turn.voice_to_voice is not None
    assert plain.voice_to_voice is not None
    assert plain.voice_to_voice - turn.voice_to_voice >= 0.2 - FRAME


def test_the_detector_hears_at_most_the_last_8_seconds() -> None:
    detector = FakeTurnDetector(0.9, latency=0.05)
    steps: list[Step] = [Silence(0.3), Say("a long story", 11.0), Silence(4.0), HangUp()]
    call(DETECTOR, detector, steps)
    assert detector.heard == [8.0]
