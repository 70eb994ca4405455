"""The conversation's phase, input by input: each phase and each move docs/turn-taking.md draws."""

from __future__ import annotations

from parley.conversation import Conversation, Phase, TurnTakingPolicy
from parley.conversation.actions import Action, StartResponse
from parley.conversation.inputs import (
    CancelRequested,
    HangupRequested,
    KeyPressed,
    OutputPaused,
    OutputStopped,
    PlaybackFinished,
    PlaybackStarted,
    ResponseRequested,
    SpeechEnded,
    SpeechStarted,
    Timer,
    TimerFired,
    TranscriptReceived,
    TruncateRequested,
    UserTextAdded,
)

from .test_machine import speaking, timer_token, user_turn

POLICY = TurnTakingPolicy()


def phase(machine: Conversation) -> Phase:
    """Read afresh after each input (an attribute read would stay narrowed for mypy)."""
    return machine.phase


def started(actions: list[Action]) -> str:
    return next(a.response_id for a in actions if isinstance(a, StartResponse))


def thinking(machine: Conversation) -> str:
    """A response started; none of its audio has played."""
    return started(user_turn(machine, "hello"))


def audible(machine: Conversation) -> str:
    response = speaking(machine)
    machine.handle(PlaybackStarted(2.1, response))
    return response


def paused(machine: Conversation) -> str:
    """The agent is speaking and the person has just spoken over it (the pause answered)."""
    response = audible(machine)
    machine.handle(SpeechStarted(3.0, onset=2.9))
    machine.handle(OutputPaused(3.0, response, played=0.6))
    return response


def test_a_turn_goes_idle_listening_waiting_thinking_speaking_idle() -> None:
    machine = Conversation(POLICY)
    assert phase(machine) is Phase.IDLE
    machine.handle(SpeechStarted(0.0, onset=0.0))
    assert phase(machine) is Phase.LISTENING
    ended = machine.handle(SpeechEnded(1.5, last_voiced=1.0))
    assert phase(machine) is Phase.WAITING  # no final transcript yet
    machine.handle(TranscriptReceived(1.6, "hello", final=True, complete=True))
    assert phase(machine) is Phase.WAITING  # the merge gap has not passed
    actions = machine.handle(TimerFired(1.7, Timer.COMMIT, timer_token(ended, Timer.COMMIT)))
    assert phase(machine) is Phase.THINKING
    response = started(actions)
    machine.handle(PlaybackStarted(2.0, response))
    assert phase(machine) is Phase.SPEAKING
    machine.handle(PlaybackFinished(3.0, response, played=1.0))
    assert phase(machine) is Phase.IDLE


def test_speech_in_the_merge_gap_goes_back_to_listening() -> None:
    machine = Conversation(POLICY)
    machine.handle(SpeechStarted(0.0, onset=0.0))
    machine.handle(SpeechEnded(1.5, last_voiced=1.0))
    assert phase(machine) is Phase.WAITING
    machine.handle(SpeechStarted(1.6, onset=1.55))
    assert phase(machine) is Phase.LISTENING


def test_a_turn_with_no_words_or_no_auto_response_goes_back_to_idle() -> None:
    silent = Conversation(TurnTakingPolicy(merge_gap_ms=0))
    silent.handle(SpeechStarted(0.0, onset=0.0))
    silent.handle(SpeechEnded(1.5, last_voiced=1.0))
    silent.handle(TranscriptReceived(1.6, "", final=True, complete=True))
    assert phase(silent) is Phase.IDLE

    manual = Conversation(TurnTakingPolicy(auto_respond=False))
    user_turn(manual, "just noting this")
    assert phase(manual) is Phase.IDLE  # the turn joined the history; nothing to answer
    manual.handle(ResponseRequested(2.0))
    assert phase(manual) is Phase.THINKING


def test_speech_pauses_a_speaking_agent_and_a_backchannel_resumes_it() -> None:
    machine = Conversation(POLICY)
    response = audible(machine)
    machine.handle(SpeechStarted(3.0, onset=2.9))
    assert phase(machine) is Phase.PAUSED
    machine.handle(OutputPaused(3.0, response, played=0.6))
    machine.handle(SpeechEnded(3.8, last_voiced=3.3))
    assert phase(machine) is Phase.PAUSED  # the transcript will say what it was
    machine.handle(TranscriptReceived(3.9, "Mm-hmm.", final=True, complete=True))
    assert phase(machine) is Phase.SPEAKING


def test_a_held_back_response_resumes_to_thinking() -> None:
    machine = Conversation(POLICY)
    response = thinking(machine)
    machine.handle(SpeechStarted(3.0, onset=2.9))
    assert phase(machine) is Phase.PAUSED  # held back before any audio
    machine.handle(OutputPaused(3.0, response, played=0.0))
    ended = machine.handle(SpeechEnded(3.6, last_voiced=3.1))
    token = timer_token(ended, Timer.FALSE_INTERRUPTION)
    machine.handle(TimerFired(5.6, Timer.FALSE_INTERRUPTION, token))  # noise: no words
    assert phase(machine) is Phase.THINKING


def test_real_words_interrupt_to_listening_or_waiting() -> None:
    machine = Conversation(POLICY)
    paused(machine)
    machine.handle(TranscriptReceived(3.3, "wait a second", final=False))
    assert phase(machine) is Phase.LISTENING  # cancelled while the person still speaks

    machine = Conversation(POLICY)
    paused(machine)
    machine.handle(SpeechEnded(3.8, last_voiced=3.3))
    machine.handle(TranscriptReceived(3.9, "no thanks", final=True, complete=True))
    assert phase(machine) is Phase.WAITING  # cancelled; the new turn waits for the merge gap


def test_typed_words_interrupt_straight_to_thinking() -> None:
    machine = Conversation(POLICY)
    response = audible(machine)
    machine.handle(UserTextAdded(3.0, "okay", respond=True))
    assert phase(machine) is Phase.PAUSED  # until the output says how much was heard
    actions = machine.handle(OutputPaused(3.0, response, played=0.6))
    assert phase(machine) is Phase.THINKING
    assert started(actions) != response


def test_without_interrupt_on_speech_the_agent_speaks_on() -> None:
    machine = Conversation(TurnTakingPolicy(interrupt_on_speech=False))
    audible(machine)
    machine.handle(SpeechStarted(3.0, onset=2.9))
    assert phase(machine) is Phase.SPEAKING


def test_a_keypad_entry_is_listening_until_its_end_key() -> None:
    machine = Conversation(POLICY)
    machine.handle(KeyPressed(0.0, "4"))
    assert phase(machine) is Phase.LISTENING
    machine.handle(KeyPressed(0.5, "#"))
    assert phase(machine) is Phase.THINKING


def test_a_cancel_pauses_then_goes_idle() -> None:
    machine = Conversation(POLICY)
    response = audible(machine)
    machine.handle(CancelRequested(3.0))
    assert phase(machine) is Phase.PAUSED  # the position is due
    machine.handle(OutputPaused(3.0, response, played=0.6))
    assert phase(machine) is Phase.IDLE


def test_a_hangup_is_ending_from_any_phase() -> None:
    idle = Conversation(POLICY)
    idle.handle(HangupRequested(0.0, "bye"))
    assert phase(idle) is Phase.ENDING

    machine = Conversation(POLICY)
    response = paused(machine)
    machine.handle(HangupRequested(4.0, "bye"))
    assert phase(machine) is Phase.ENDING
    machine.handle(OutputStopped(4.0, response, played=0.6))
    assert phase(machine) is Phase.ENDING


def test_a_late_final_leaves_waiting_on_the_transcript_timer() -> None:
    machine = Conversation(POLICY)
    machine.handle(SpeechStarted(0.0, onset=0.0))
    machine.handle(TranscriptReceived(0.5, "hello there", final=False))
    ended = machine.handle(SpeechEnded(1.5, last_voiced=1.0))
    machine.handle(TimerFired(1.7, Timer.COMMIT, timer_token(ended, Timer.COMMIT)))
    assert phase(machine) is Phase.WAITING  # the final is due
    machine.handle(TimerFired(4.5, Timer.TRANSCRIPT, timer_token(ended, Timer.TRANSCRIPT)))
    assert phase(machine) is Phase.THINKING  # answered with the partial


def test_typed_words_or_words_the_vad_missed_start_a_response_from_idle() -> None:
    typed = Conversation(POLICY)
    typed.handle(UserTextAdded(0.0, "hi", respond=True))
    assert phase(typed) is Phase.THINKING

    missed = Conversation(POLICY)
    missed.handle(TranscriptReceived(0.0, "hello", final=True))
    assert phase(missed) is Phase.THINKING

    speaking_over = Conversation(POLICY)
    audible(speaking_over)
    speaking_over.handle(TranscriptReceived(3.0, "stop", final=True))
    assert phase(speaking_over) is Phase.PAUSED


def test_a_response_ends_idle_without_audio_or_when_truncated() -> None:
    silent = Conversation(POLICY)
    response = thinking(silent)
    silent.handle(PlaybackFinished(3.0, response, played=0.0))  # the LLM failed, say
    assert phase(silent) is Phase.IDLE

    truncated = Conversation(POLICY)
    response = audible(truncated)
    truncated.handle(TruncateRequested(3.0, response, played=0.5))
    assert phase(truncated) is Phase.IDLE
