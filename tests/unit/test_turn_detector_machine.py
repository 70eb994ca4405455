"""The machine with a turn detector and preemptive answers, input by input."""

from __future__ import annotations

from parley.conversation import Conversation, TurnTakingPolicy
from parley.conversation.actions import (
    Action,
    DropResponse,
    Emit,
    PredictTurn,
    StartResponse,
    StartTimer,
)
from parley.conversation.inputs import (
    HangupRequested,
    InstructionsChanged,
    ResponseFailed,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    Timer,
    TimerFired,
    TranscriptReceived,
    TurnPredicted,
    WordsAligned,
)
from parley.conversation.state import Phase
from parley.events import AgentResponseStarted, ErrorEvent, SessionEvent
from parley.types import ChatMessage, TimedWord

DETECTOR = TurnTakingPolicy(turn_detector="fake")
PREEMPT = TurnTakingPolicy(preemptive_response=True)


def phase_of(machine: Conversation) -> Phase:
    """The phase, read through a call (mypy narrows a property across asserts)."""
    return machine.phase


def kinds(actions: list[Action]) -> list[str]:
    return [type(a).__name__ for a in actions if not isinstance(a, Emit)]


def events(actions: list[Action]) -> list[SessionEvent]:
    return [a.event for a in actions if isinstance(a, Emit)]


def timer(actions: list[Action], which: Timer) -> StartTimer:
    return next(a for a in actions if isinstance(a, StartTimer) and a.timer is which)


def fire(machine: Conversation, armed: StartTimer) -> list[Action]:
    return machine.handle(TimerFired(armed.deadline, armed.timer, armed.token))


def ask(machine: Conversation, last_voiced: float = 1.0) -> tuple[PredictTurn, StartTimer]:
    """Speech, then a pause: the detector is asked at the check point."""
    machine.handle(SpeechStarted(0.0, onset=0.0))
    paused = machine.handle(SpeechPaused(last_voiced + 0.03, last_voiced))
    check, silence = timer(paused, Timer.TURN_CHECK), timer(paused, Timer.SILENCE)
    assert check.deadline == last_voiced + DETECTOR.turn_check_silence_ms / 1000
    assert silence.deadline == last_voiced + DETECTOR.min_silence_ms / 1000
    question = next(a for a in fire(machine, check) if isinstance(a, PredictTurn))
    return question, silence


def test_without_a_detector_a_pause_asks_nothing() -> None:
    machine = Conversation(TurnTakingPolicy())
    machine.handle(SpeechStarted(0.0, onset=0.0))
    assert kinds(machine.handle(SpeechPaused(1.03, 1.0))) == []


def test_complete_ends_the_speech_at_once() -> None:
    machine = Conversation(DETECTOR)
    question, _ = ask(machine)
    answered = machine.handle(TurnPredicted(1.26, question.token, True, 0.93))
    assert kinds(answered) == ["CancelTimer", "EndSpeech"]
    assert phase_of(machine) is Phase.LISTENING  # until the input path's SpeechEnded comes back
    machine.handle(SpeechEnded(1.26, last_voiced=1.0))
    assert phase_of(machine) is Phase.WAITING


def test_incomplete_waits_for_the_vad_and_the_plain_silence_does_not_end_it() -> None:
    machine = Conversation(DETECTOR)
    question, silence = ask(machine)
    answered = machine.handle(TurnPredicted(1.26, question.token, False, 0.1))
    assert kinds(answered) == ["CancelTimer"]  # the SILENCE fallback is off
    assert kinds(fire(machine, silence)) == []  # stale: cancelled
    assert phase_of(machine) is Phase.LISTENING


def test_a_failed_or_silent_detector_leaves_the_plain_silence_policy() -> None:
    for answer in (TurnPredicted(1.25, 1, None), None):
        machine = Conversation(DETECTOR)
        question, silence = ask(machine)
        assert question.token == 1
        if answer is not None:
            assert kinds(machine.handle(answer)) == []
        assert kinds(fire(machine, silence)) == ["EndSpeech"]
        # An answer after the silence decided changes nothing.
        machine.handle(SpeechEnded(1.5, last_voiced=1.0))
        assert kinds(machine.handle(TurnPredicted(1.6, question.token, True))) == []


def test_speech_resuming_cancels_the_question() -> None:
    machine = Conversation(DETECTOR)
    question, silence = ask(machine)
    resumed = machine.handle(SpeechResumed(1.22))
    assert kinds(resumed) == ["CancelTimer"]  # the SILENCE fallback; TURN_CHECK had fired
    assert kinds(machine.handle(TurnPredicted(1.26, question.token, True))) == []
    assert kinds(fire(machine, silence)) == []
    # The next pause asks a new question.
    again = machine.handle(SpeechPaused(2.03, 2.0))
    newer = next(
        a for a in fire(machine, timer(again, Timer.TURN_CHECK)) if isinstance(a, PredictTurn)
    )
    assert newer.token != question.token
    assert kinds(machine.handle(TurnPredicted(2.25, newer.token, True))) == [
        "CancelTimer",
        "EndSpeech",
    ]


def turn_in(machine: Conversation, text: str = "what time is it", at: float = 1.5) -> list[Action]:
    machine.handle(SpeechStarted(0.0, onset=0.0))
    machine.handle(SpeechEnded(at, last_voiced=1.0))
    return machine.handle(TranscriptReceived(at + 0.1, text, True, True))


def test_a_preemptive_answer_starts_held_and_is_released_at_the_merge_gap() -> None:
    machine = Conversation(PREEMPT, (ChatMessage("system", "be brief"),))
    started = turn_in(machine)
    held = next(a for a in started if isinstance(a, StartResponse))
    assert held.held and held.messages[-1] == ChatMessage("user", "what time is it")
    assert not any(isinstance(e, AgentResponseStarted) for e in events(started))
    assert phase_of(machine) is Phase.WAITING and machine.history == (
        ChatMessage("system", "be brief"),
    )
    # Its words are kept while it is held.
    word = TimedWord("It", 0.0, 0.2)
    machine.handle(WordsAligned(1.7, held.response_id, (word,)))
    committed = machine.handle(TimerFired(1.7, Timer.COMMIT, 2))
    assert kinds(committed) == ["ReleaseResponse"]
    assert events(committed) == [AgentResponseStarted(held.response_id)]
    assert machine.response_id == held.response_id and phase_of(machine) is Phase.THINKING
    assert machine.history[-1] == ChatMessage("user", "what time is it")


def test_a_preemptive_answer_is_dropped_when_the_person_goes_on() -> None:
    machine = Conversation(PREEMPT, (ChatMessage("system", "be brief"),))
    held = next(a for a in turn_in(machine) if isinstance(a, StartResponse))
    went_on = machine.handle(SpeechStarted(1.65, onset=1.6))
    assert DropResponse(held.response_id) in went_on
    assert not any(isinstance(e, AgentResponseStarted) for e in events(went_on))
    # The whole turn is answered once, with everything said, by a new response.
    commit = timer(machine.handle(SpeechEnded(2.5, last_voiced=2.0)), Timer.COMMIT)
    again = machine.handle(TranscriptReceived(2.6, "in Paris", True, True))
    second = next(a for a in again if isinstance(a, StartResponse))
    assert second.held and second.response_id != held.response_id
    assert second.messages[-1] == ChatMessage("user", "what time is it in Paris")
    committed = fire(machine, commit)
    assert kinds(committed) == ["ReleaseResponse"]
    assert machine.history == (
        ChatMessage("system", "be brief"),
        ChatMessage("user", "what time is it in Paris"),
    )


def test_a_preemptive_answer_is_dropped_when_the_words_change() -> None:
    machine = Conversation(PREEMPT)
    held = next(a for a in turn_in(machine) if isinstance(a, StartResponse))
    # Another final arrives within the merge gap (no new speech): the text grew.
    more = machine.handle(TranscriptReceived(1.65, "in Paris", True, False))
    assert kinds(more)[:2] == ["DropResponse", "StartResponse"]
    assert DropResponse(held.response_id) in more
    # The history changing under it (new instructions) also drops it at the commit.
    machine.handle(InstructionsChanged(1.66, "be terse"))
    committed = machine.handle(TimerFired(1.7, Timer.COMMIT, 2))
    assert kinds(committed)[:2] == ["DropResponse", "StartResponse"]
    fresh = next(a for a in committed if isinstance(a, StartResponse))
    assert not fresh.held and fresh.messages[0] == ChatMessage("system", "be terse")


def test_a_hangup_drops_a_held_answer() -> None:
    machine = Conversation(PREEMPT)
    held = next(a for a in turn_in(machine) if isinstance(a, StartResponse))
    hangup = machine.handle(HangupRequested(1.65, "bye"))
    assert hangup[0] == DropResponse(held.response_id) and kinds(hangup)[-1] == "EndSession"


def test_without_preemptive_nothing_starts_before_the_merge_gap() -> None:
    machine = Conversation(TurnTakingPolicy())
    assert "StartResponse" not in kinds(turn_in(machine))


def test_without_a_detector_the_early_silence_starts_a_held_answer_from_the_partial() -> None:
    machine = Conversation(PREEMPT)
    machine.handle(SpeechStarted(0.0, onset=0.0))
    machine.handle(TranscriptReceived(0.8, "what time is it", False))
    early = timer(machine.handle(SpeechPaused(1.03, 1.0)), Timer.PREEMPT)
    assert early.deadline == 1.0 + PREEMPT.preemptive_silence_ms / 1000
    held = next(a for a in fire(machine, early) if isinstance(a, StartResponse))
    assert held.held and held.user_text == "what time is it"
    # The person goes on before the silence ends the turn: dropped.
    assert kinds(machine.handle(SpeechResumed(1.35))) == ["DropResponse"]


def test_a_held_answer_from_a_partial_is_used_when_the_final_says_the_same() -> None:
    machine = Conversation(PREEMPT)
    machine.handle(SpeechStarted(0.0, onset=0.0))
    machine.handle(TranscriptReceived(0.8, "what time is it", False))
    early = timer(machine.handle(SpeechPaused(1.03, 1.0)), Timer.PREEMPT)
    held = next(a for a in fire(machine, early) if isinstance(a, StartResponse))
    commit = timer(machine.handle(SpeechEnded(1.5, last_voiced=1.0)), Timer.COMMIT)
    assert "StartResponse" not in kinds(
        machine.handle(TranscriptReceived(1.6, "what time is it", True, True))
    )
    assert kinds(fire(machine, commit)) == ["ReleaseResponse"]
    assert machine.response_id == held.response_id


def test_a_held_answer_from_a_partial_is_replaced_when_the_final_differs() -> None:
    machine = Conversation(PREEMPT)
    machine.handle(SpeechStarted(0.0, onset=0.0))
    machine.handle(TranscriptReceived(0.8, "what time is", False))
    early = timer(machine.handle(SpeechPaused(1.03, 1.0)), Timer.PREEMPT)
    held = next(a for a in fire(machine, early) if isinstance(a, StartResponse))
    machine.handle(SpeechEnded(1.5, last_voiced=1.0))
    final = machine.handle(TranscriptReceived(1.6, "what time is it", True, True))
    assert DropResponse(held.response_id) in final
    again = next(a for a in final if isinstance(a, StartResponse))
    assert again.held and again.user_text == "what time is it"


def test_a_held_answer_that_failed_is_reported_only_if_it_is_used() -> None:
    for goes_on in (False, True):
        machine = Conversation(PREEMPT)
        held = next(a for a in turn_in(machine) if isinstance(a, StartResponse))
        failed = machine.handle(ResponseFailed(1.65, held.response_id, "llm", "boom"))
        assert events(failed) == []
        if goes_on:
            machine.handle(SpeechStarted(1.66, onset=1.66))
            reported = machine.handle(SpeechEnded(2.5, last_voiced=2.0))
            assert ErrorEvent("llm_failed", "boom") not in events(reported)
        else:
            committed = machine.handle(TimerFired(1.7, Timer.COMMIT, 2))
            assert ErrorEvent("llm_failed", "boom") in events(committed)
