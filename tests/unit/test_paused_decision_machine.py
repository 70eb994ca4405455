"""The paused decision, input by input: while speech has paused the agent, a short silence
decides from the words known then (TurnTakingPolicy.paused_decision_silence_ms)."""

from __future__ import annotations

from parley.conversation import Conversation, TurnTakingPolicy
from parley.conversation.actions import (
    Action,
    CancelResponse,
    EndSpeech,
    ResumeOutput,
    StartTimer,
)
from parley.conversation.inputs import (
    OutputPaused,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    Timer,
    TimerFired,
    TranscriptReceived,
)
from parley.conversation.state import Phase
from parley.types import ChatMessage

from .test_machine import kinds, speaking

POLICY = TurnTakingPolicy()
DECIDE = POLICY.paused_decision_silence_ms / 1000


def paused(machine: Conversation) -> str:
    """The agent speaks and speech at 3.0 s pauses it; returns the response id."""
    response = speaking(machine)
    machine.handle(SpeechStarted(3.0, onset=2.9))
    machine.handle(OutputPaused(3.0, response, played=0.6))
    return response


def decision(actions: list[Action]) -> StartTimer:
    return next(
        a for a in actions if isinstance(a, StartTimer) and a.timer is Timer.PAUSED_DECISION
    )


def test_a_backchannel_partial_resumes_at_the_short_silence() -> None:
    machine = Conversation(POLICY)
    response = paused(machine)
    machine.handle(TranscriptReceived(3.2, "yeah", final=False))
    timer = decision(machine.handle(SpeechPaused(3.35, last_voiced=3.3)))
    assert timer.deadline == 3.3 + DECIDE
    fired = machine.handle(TimerFired(timer.deadline, Timer.PAUSED_DECISION, timer.token))
    assert EndSpeech() in fired and ResumeOutput(response) in fired
    assert machine.phase is Phase.THINKING  # not paused (no PlaybackStarted in these tests)
    # The VAD's own end and the final that confirms the words change nothing.
    assert kinds(machine.handle(SpeechEnded(3.5, last_voiced=3.3))) == []
    assert kinds(machine.handle(TranscriptReceived(3.6, "Yeah.", final=True, complete=True))) == []
    assert machine.phase is Phase.THINKING and machine.response_id == response
    assert [m.content for m in machine.history] == ["hello"]  # the "yeah" is not a turn


def test_a_final_that_contradicts_the_partial_still_interrupts() -> None:
    machine = Conversation(POLICY)
    response = paused(machine)
    machine.handle(TranscriptReceived(3.2, "yeah", final=False))
    timer = decision(machine.handle(SpeechPaused(3.35, last_voiced=3.3)))
    machine.handle(TimerFired(timer.deadline, Timer.PAUSED_DECISION, timer.token))
    machine.handle(SpeechEnded(3.5, last_voiced=3.3))
    late = machine.handle(TranscriptReceived(3.6, "Yeah, stop.", final=True, complete=True))
    assert kinds(late)[0] == "PauseOutput"  # paused again at once...
    answer = machine.handle(OutputPaused(3.6, response, played=1.2))
    assert [a.response_id for a in answer if isinstance(a, CancelResponse)] == [response]
    assert machine.history[-2:] == (  # ...cancelled: the words are the next turn
        ChatMessage("assistant", "one two three four", interrupted=True),
        ChatMessage("user", "Yeah, stop."),
    )


def test_without_words_yet_the_speech_ends_at_the_short_silence() -> None:
    """A whole-utterance STT: the final comes once the speech ends, so end it early."""
    machine = Conversation(POLICY)
    response = paused(machine)
    timer = decision(machine.handle(SpeechPaused(3.35, last_voiced=3.3)))
    fired = machine.handle(TimerFired(timer.deadline, Timer.PAUSED_DECISION, timer.token))
    assert kinds(fired) == ["EndSpeech"]
    machine.handle(SpeechEnded(timer.deadline, last_voiced=3.3))
    resumed = machine.handle(TranscriptReceived(3.6, "Uh-huh.", final=True, complete=True))
    assert ResumeOutput(response) in resumed


def test_an_early_ended_interruption_commits_no_sooner_than_the_plain_silence() -> None:
    machine = Conversation(POLICY)
    response = paused(machine)
    timer = decision(machine.handle(SpeechPaused(3.35, last_voiced=3.3)))
    machine.handle(TimerFired(timer.deadline, Timer.PAUSED_DECISION, timer.token))
    ended = machine.handle(SpeechEnded(timer.deadline, last_voiced=3.3))
    commit = next(a for a in ended if isinstance(a, StartTimer) and a.timer is Timer.COMMIT)
    silence, gap = POLICY.min_silence_ms / 1000, POLICY.merge_gap_ms / 1000
    assert abs(commit.deadline - (3.3 + silence + gap)) < 1e-9
    cancel = machine.handle(TranscriptReceived(3.6, "Wait.", final=True, complete=True))
    assert [a.response_id for a in cancel if isinstance(a, CancelResponse)] == [response]
    # The person goes on within the usual silence: one turn, one answer.
    machine.handle(SpeechStarted(3.7, onset=3.65))
    machine.handle(SpeechEnded(4.9, last_voiced=4.4))
    machine.handle(TranscriptReceived(5.0, "what about tomorrow", final=True, complete=True))
    assert machine.phase is Phase.WAITING


def test_speech_going_on_cancels_the_decision() -> None:
    machine = Conversation(POLICY)
    paused(machine)
    machine.handle(TranscriptReceived(3.2, "yeah", final=False))
    timer = decision(machine.handle(SpeechPaused(3.35, last_voiced=3.3)))
    machine.handle(SpeechResumed(3.4))
    assert kinds(machine.handle(TimerFired(3.45, Timer.PAUSED_DECISION, timer.token))) == []
    assert machine.phase is Phase.PAUSED


def test_words_that_are_not_a_backchannel_interrupt_without_waiting_for_silence() -> None:
    machine = Conversation(POLICY)
    response = paused(machine)
    assert kinds(machine.handle(TranscriptReceived(3.2, "yeah", final=False))) == []
    cancel = machine.handle(TranscriptReceived(3.4, "yeah but", final=False))
    assert [a.response_id for a in cancel if isinstance(a, CancelResponse)] == [response]


def test_no_decision_silence_when_nothing_is_paused_or_when_it_is_as_long_as_the_vad() -> None:
    machine = Conversation(POLICY)
    machine.handle(SpeechStarted(0.0, onset=0.0))
    assert Timer.PAUSED_DECISION not in {
        a.timer for a in machine.handle(SpeechPaused(1.0, 0.95)) if isinstance(a, StartTimer)
    }
    slow = Conversation(TurnTakingPolicy(paused_decision_silence_ms=500))
    paused(slow)
    started = slow.handle(SpeechPaused(3.35, last_voiced=3.3))
    assert not [a for a in started if isinstance(a, StartTimer)]


def test_a_backchannel_partial_after_the_decision_resumes_when_it_comes() -> None:
    """A whole-utterance STT's partial, from a run made while the person spoke, can come
    after the decision ended the speech: it resumes then, not after the final."""
    machine = Conversation(POLICY)
    response = paused(machine)
    timer = decision(machine.handle(SpeechPaused(3.35, last_voiced=3.3)))
    machine.handle(TimerFired(timer.deadline, Timer.PAUSED_DECISION, timer.token))
    machine.handle(SpeechEnded(timer.deadline, last_voiced=3.3))
    assert ResumeOutput(response) in machine.handle(TranscriptReceived(3.55, "Yeah.", final=False))
    assert kinds(machine.handle(TranscriptReceived(3.9, "Yeah.", final=True, complete=True))) == []
    assert machine.phase is Phase.THINKING and [m.content for m in machine.history] == ["hello"]


def test_a_late_partial_that_missed_words_is_overruled_by_the_final() -> None:
    machine = Conversation(POLICY)
    response = paused(machine)
    timer = decision(machine.handle(SpeechPaused(3.35, last_voiced=3.3)))
    machine.handle(TimerFired(timer.deadline, Timer.PAUSED_DECISION, timer.token))
    machine.handle(SpeechEnded(timer.deadline, last_voiced=3.3))
    assert ResumeOutput(response) in machine.handle(TranscriptReceived(3.55, "Yeah.", final=False))
    late = machine.handle(TranscriptReceived(3.9, "Yeah, stop.", final=True, complete=True))
    assert kinds(late)[0] == "PauseOutput"
    answer = machine.handle(OutputPaused(3.9, response, played=1.2))
    assert [a.response_id for a in answer if isinstance(a, CancelResponse)] == [response]
    assert machine.history[-1] == ChatMessage("user", "Yeah, stop.")


def test_a_late_partial_does_not_resume_without_the_decision() -> None:
    """With the decision off (at the VAD's own silence), the final decides as before."""
    policy = TurnTakingPolicy(paused_decision_silence_ms=POLICY.min_silence_ms)
    machine = Conversation(policy)
    paused(machine)
    machine.handle(SpeechPaused(3.35, last_voiced=3.3))
    machine.handle(SpeechEnded(3.8, last_voiced=3.3))
    assert kinds(machine.handle(TranscriptReceived(3.85, "Yeah.", final=False))) == []
    assert machine.phase is Phase.PAUSED
