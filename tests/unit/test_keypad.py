"""Keypad entry in the conversation machine: keys are deliberate words of the person's turn."""

from __future__ import annotations

from parley.conversation import Conversation, TurnTakingPolicy
from parley.conversation.actions import Emit, StartResponse, StartTimer
from parley.conversation.inputs import (
    KeyPressed,
    OutputPaused,
    SpeechEnded,
    SpeechStarted,
    Timer,
    TimerFired,
    TranscriptReceived,
)
from parley.events import UserDtmf

from .test_machine import kinds, speaking


def test_keys_pause_the_agent_at_the_first_and_are_answered_at_the_end_key() -> None:
    machine = Conversation(TurnTakingPolicy())
    response = speaking(machine)
    assert kinds(machine.handle(KeyPressed(3.0, "4"))) == ["PauseOutput", "StartTimer"]
    assert kinds(machine.handle(KeyPressed(3.3, "2"))) == ["StartTimer"]
    machine.handle(OutputPaused(3.31, response, played=1.0))  # "one two three four": 4 heard
    actions = machine.handle(KeyPressed(3.6, "#"))
    assert kinds(actions) == ["CancelTimer", "CancelResponse", "StartResponse"]
    start = next(a for a in actions if isinstance(a, StartResponse))
    assert start.user_text == "[keypad: 42#]"
    assert [(m.role, m.content, m.interrupted) for m in start.messages[-2:]] == [
        ("assistant", "one two three four", True),
        ("user", "[keypad: 42#]", False),
    ]
    digits = [
        e.event.digit for e in actions if isinstance(e, Emit) and isinstance(e.event, UserDtmf)
    ]
    assert digits == ["#"]


def test_keys_without_an_end_key_are_answered_after_the_keypad_timeout() -> None:
    policy = TurnTakingPolicy(keypad_timeout_ms=1500)
    machine = Conversation(policy)
    machine.handle(KeyPressed(1.0, "1"))
    timer = next(a for a in machine.handle(KeyPressed(1.4, "9")) if isinstance(a, StartTimer))
    assert timer.timer is Timer.KEYPAD and timer.deadline == 1.4 + 1.5
    actions = machine.handle(TimerFired(2.9, Timer.KEYPAD, timer.token))
    start = next(a for a in actions if isinstance(a, StartResponse))
    assert start.user_text == "[keypad: 19]"


def test_keys_join_words_the_person_is_still_saying() -> None:
    machine = Conversation(TurnTakingPolicy(merge_gap_ms=0))
    machine.handle(SpeechStarted(0.0, onset=0.0))
    assert "StartResponse" not in kinds(machine.handle(KeyPressed(0.5, "#")))  # still speaking
    machine.handle(SpeechEnded(1.5, last_voiced=1.0))
    actions = machine.handle(TranscriptReceived(1.6, "my code is", final=True, complete=True))
    start = next(a for a in actions if isinstance(a, StartResponse))
    assert start.user_text == "[keypad: #] my code is"


def test_with_keypad_turns_off_keys_are_only_events() -> None:
    machine = Conversation(TurnTakingPolicy(keypad_turns=False))
    speaking(machine)
    actions = machine.handle(KeyPressed(3.0, "5"))
    assert kinds(actions) == []  # no pause, no timer
    assert [a.event for a in actions if isinstance(a, Emit)] == [UserDtmf("5")]
