"""Requests from clients (typed text, Realtime API calls) and the two turn-taking switches."""

from __future__ import annotations

from parley.conversation import Conversation, TurnTakingPolicy
from parley.conversation.actions import Action, CancelResponse, Emit, PauseOutput, StartResponse
from parley.conversation.inputs import (
    CancelRequested,
    InstructionsChanged,
    OutputPaused,
    PlaybackFinished,
    ResponseRequested,
    SpeechEnded,
    SpeechStarted,
    TranscriptReceived,
    TruncateRequested,
    UserTextAdded,
    WordsAligned,
)
from parley.events import AgentResponseDone, ErrorEvent
from parley.types import ChatMessage, TimedWord

from .test_machine import speaking, user_turn

NO_GAP = TurnTakingPolicy(merge_gap_ms=0)


def started(actions: list[Action]) -> list[StartResponse]:
    return [a for a in actions if isinstance(a, StartResponse)]


def errors(actions: list[Action]) -> list[str]:
    return [
        a.event.code for a in actions if isinstance(a, Emit) and isinstance(a.event, ErrorEvent)
    ]


def done(actions: list[Action]) -> list[AgentResponseDone]:
    return [
        a.event for a in actions if isinstance(a, Emit) and isinstance(a.event, AgentResponseDone)
    ]


def test_text_joins_the_history_or_is_answered() -> None:
    machine = Conversation(NO_GAP)
    assert machine.handle(UserTextAdded(0.0, "note this", respond=False)) == []
    assert machine.history == (ChatMessage("user", "note this"),)
    [start] = started(machine.handle(UserTextAdded(1.0, "and answer", respond=True)))
    assert start.messages == (ChatMessage("user", "note this and answer"),)


def test_typed_text_interrupts_even_if_it_reads_like_a_backchannel() -> None:
    machine = Conversation(NO_GAP)
    response = speaking(machine)
    first = machine.handle(UserTextAdded(3.0, "okay", respond=True))
    assert PauseOutput(response) in first
    after = machine.handle(OutputPaused(3.0, response, played=0.3))
    assert [a.response_id for a in after if isinstance(a, CancelResponse)] == [response]
    [start] = started(after)
    assert start.messages[-2:] == (
        ChatMessage("assistant", "one two", interrupted=True),
        ChatMessage("user", "okay"),
    )


def test_manual_turns_wait_for_a_response_request() -> None:
    machine = Conversation(TurnTakingPolicy(auto_respond=False, merge_gap_ms=0))
    machine.handle(SpeechStarted(0.0, onset=0.0))
    machine.handle(SpeechEnded(1.0, last_voiced=0.5))
    assert started(machine.handle(TranscriptReceived(1.1, "hello", True, True))) == []
    assert machine.history == (ChatMessage("user", "hello"),)
    [start] = started(machine.handle(ResponseRequested(2.0)))
    assert start.user_text == "hello"
    assert errors(machine.handle(ResponseRequested(2.1))) == [
        "conversation_already_has_active_response"
    ]


def test_a_response_requested_before_the_transcript_starts_when_it_arrives() -> None:
    machine = Conversation(TurnTakingPolicy(auto_respond=False, merge_gap_ms=0))
    machine.handle(SpeechStarted(0.0, onset=0.0))
    machine.handle(SpeechEnded(1.0, last_voiced=0.5))
    assert started(machine.handle(ResponseRequested(1.01))) == []
    [start] = started(machine.handle(TranscriptReceived(1.2, "what now", True, True)))
    assert start.user_text == "what now"


def test_cancel_keeps_what_was_heard_and_says_cancelled() -> None:
    machine = Conversation(NO_GAP)
    assert errors(machine.handle(CancelRequested(0.0))) == ["response_cancel_not_active"]
    response = speaking(machine)
    assert PauseOutput(response) in machine.handle(CancelRequested(3.0))
    after = machine.handle(OutputPaused(3.0, response, played=0.55))
    assert [(a.response_id, a.reason) for a in after if isinstance(a, CancelResponse)] == [
        (response, "cancelled")
    ]
    assert [d.status for d in done(after)] == ["cancelled"]
    assert machine.history[-1] == ChatMessage("assistant", "one two three", interrupted=True)


def test_truncate_cuts_a_response_in_flight_or_one_already_done() -> None:
    machine = Conversation(NO_GAP)
    response = speaking(machine)
    cut = machine.handle(TruncateRequested(3.0, response, played=0.3))
    assert [a.played for a in cut if isinstance(a, CancelResponse)] == [0.3]
    assert machine.history[-1].content == "one two"

    second = started(user_turn(machine, "again", at=10.0))[0].response_id
    words = tuple(TimedWord(w, i * 0.25, (i + 1) * 0.25) for i, w in enumerate("abcd"))
    machine.handle(WordsAligned(12.0, second, words))
    machine.handle(PlaybackFinished(13.0, second, played=1.0))
    assert machine.history[-1] == ChatMessage("assistant", "a b c d")
    machine.handle(TruncateRequested(14.0, second, played=0.4))  # the client heard less
    assert machine.history[-1] == ChatMessage("assistant", "a b", interrupted=True)
    machine.handle(TruncateRequested(14.5, second, played=0.0))  # or nothing at all
    assert machine.history[-1] == ChatMessage("user", "again")


def test_instructions_can_change_mid_call() -> None:
    machine = Conversation(NO_GAP, (ChatMessage("system", "be brief"),))
    machine.handle(InstructionsChanged(1.0, "speak French"))
    assert machine.history[0] == ChatMessage("system", "speak French")


def test_without_interruptions_the_agent_speaks_on_and_the_turn_waits() -> None:
    machine = Conversation(TurnTakingPolicy(interrupt_on_speech=False, merge_gap_ms=0))
    response = speaking(machine)
    assert not any(isinstance(a, PauseOutput) for a in machine.handle(SpeechStarted(3.0, 3.0)))
    machine.handle(SpeechEnded(4.0, last_voiced=3.5))
    assert started(machine.handle(TranscriptReceived(4.1, "next question", True, True))) == []
    [start] = started(machine.handle(PlaybackFinished(5.0, response, played=1.0)))
    assert start.user_text == "next question"
