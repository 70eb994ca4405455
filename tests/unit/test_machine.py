"""The conversation state machine, input by input: pure, deterministic, complete."""

from __future__ import annotations

import ast
from pathlib import Path

from parley.conversation import Conversation, TurnTakingPolicy
from parley.conversation.actions import (
    Action,
    CancelResponse,
    CancelTimer,
    Emit,
    EndSession,
    PauseOutput,
    ResumeOutput,
    StartResponse,
    StartTimer,
    StopOutput,
)
from parley.conversation.inputs import (
    HangupRequested,
    OutputPaused,
    OutputStopped,
    PlaybackFinished,
    SayRequested,
    SpeechEnded,
    SpeechStarted,
    Timer,
    TimerFired,
    TranscriptReceived,
    WordsAligned,
)
from parley.events import AgentResumed, ErrorEvent
from parley.types import ChatMessage, TimedWord

POLICY = TurnTakingPolicy()


def kinds(actions: list[Action]) -> list[str]:
    return [type(a).__name__ for a in actions if not isinstance(a, Emit)]


def timer_token(actions: list[Action], timer: Timer) -> int:
    return next(a.token for a in actions if isinstance(a, StartTimer) and a.timer is timer)


def user_turn(machine: Conversation, text: str, at: float = 0.0) -> list[Action]:
    """Speech, its end, its final transcript and the merge gap: returns the last actions."""
    machine.handle(SpeechStarted(at, onset=at))
    ended = machine.handle(SpeechEnded(at + 1.5, last_voiced=at + 1.0))
    final = machine.handle(TranscriptReceived(at + 1.6, text, final=True, complete=True))
    if machine.policy.merge_gap_ms == 0:
        return final  # no merge gap: answered on the final
    return machine.handle(TimerFired(at + 1.7, Timer.COMMIT, timer_token(ended, Timer.COMMIT)))


def speaking(machine: Conversation, words: str = "one two three four") -> str:
    actions = user_turn(machine, "hello")
    start = next(a for a in actions if isinstance(a, StartResponse))
    timed = tuple(TimedWord(w, i * 0.25, (i + 1) * 0.25) for i, w in enumerate(words.split()))
    machine.handle(WordsAligned(2.0, start.response_id, timed))
    return start.response_id


def test_a_turn_is_answered_after_the_silence_the_final_and_the_merge_gap() -> None:
    machine = Conversation(POLICY, (ChatMessage("system", "be brief"),))
    machine.handle(SpeechStarted(0.0, onset=0.0))
    ended = machine.handle(SpeechEnded(1.5, last_voiced=1.0))
    assert "StartResponse" not in kinds(ended)
    commit = next(a for a in ended if isinstance(a, StartTimer) and a.timer is Timer.COMMIT)
    assert commit.deadline == 1.5 + POLICY.merge_gap_ms / 1000
    assert "StartResponse" not in kinds(machine.handle(TranscriptReceived(1.6, "hi", True, True)))
    actions = machine.handle(TimerFired(1.7, Timer.COMMIT, commit.token))
    start = next(a for a in actions if isinstance(a, StartResponse))
    assert start.messages == (ChatMessage("system", "be brief"), ChatMessage("user", "hi"))


def test_speech_over_the_agent_pauses_it_first() -> None:
    machine = Conversation(POLICY)
    response = speaking(machine)
    actions = machine.handle(SpeechStarted(3.0, onset=2.9))
    assert kinds(actions)[0] == "PauseOutput"
    assert actions[0] == PauseOutput(response)


def test_a_backchannel_resumes_and_real_words_interrupt() -> None:
    machine = Conversation(POLICY)
    response = speaking(machine)
    machine.handle(SpeechStarted(3.0, onset=2.9))
    machine.handle(OutputPaused(3.0, response, played=0.6))
    machine.handle(SpeechEnded(3.8, last_voiced=3.3))
    resumed = machine.handle(TranscriptReceived(3.9, "Mm-hmm.", final=True, complete=True))
    assert ResumeOutput(response) in resumed
    assert any(isinstance(a, Emit) and isinstance(a.event, AgentResumed) for a in resumed)

    machine.handle(SpeechStarted(5.0, onset=4.9))
    machine.handle(OutputPaused(5.0, response, played=0.6))
    cancel = machine.handle(TranscriptReceived(5.3, "yeah but wait", final=False))
    assert [a.response_id for a in cancel if isinstance(a, CancelResponse)] == [response]
    # Words at 0, 0.25 and 0.5 s had begun by 0.6 s: they were heard.
    assert machine.history[-1] == ChatMessage("assistant", "one two three", interrupted=True)


def test_a_partial_that_may_still_grow_into_a_backchannel_waits() -> None:
    machine = Conversation(POLICY)
    response = speaking(machine, "a b c d")
    machine.handle(SpeechStarted(3.0, onset=2.9))
    machine.handle(OutputPaused(3.0, response, played=0.6))
    assert kinds(machine.handle(TranscriptReceived(3.2, "go", final=False))) == []
    assert kinds(machine.handle(TranscriptReceived(3.4, "go on", final=False))) == []
    machine.handle(SpeechEnded(4.0, last_voiced=3.5))
    assert ResumeOutput(response) in machine.handle(TranscriptReceived(4.1, "go on", True, True))


def test_noise_with_no_words_resumes_at_the_false_interruption_timeout() -> None:
    machine = Conversation(POLICY)
    response = speaking(machine)
    machine.handle(SpeechStarted(3.0, onset=2.9))
    machine.handle(OutputPaused(3.0, response, played=0.6))
    ended = machine.handle(SpeechEnded(3.6, last_voiced=3.1))
    token = timer_token(ended, Timer.FALSE_INTERRUPTION)
    timer = next(
        a for a in ended if isinstance(a, StartTimer) and a.timer is Timer.FALSE_INTERRUPTION
    )
    assert timer.deadline == 3.6 + POLICY.false_interruption_timeout_ms / 1000
    fired = machine.handle(TimerFired(5.6, Timer.FALSE_INTERRUPTION, token))
    assert ResumeOutput(response) in fired


def test_a_stale_timer_is_ignored() -> None:
    machine = Conversation(POLICY)
    machine.handle(SpeechStarted(0.0, onset=0.0))
    ended = machine.handle(SpeechEnded(1.5, last_voiced=1.0))
    token = timer_token(ended, Timer.COMMIT)
    assert CancelTimer(Timer.COMMIT) in machine.handle(SpeechStarted(1.6, onset=1.6))
    assert machine.handle(TimerFired(1.7, Timer.COMMIT, token)) == []


def test_a_late_transcript_is_reported_and_the_turn_goes_on() -> None:
    machine = Conversation(POLICY)
    machine.handle(SpeechStarted(0.0, onset=0.0))
    ended = machine.handle(SpeechEnded(1.5, last_voiced=1.0))
    machine.handle(TimerFired(1.7, Timer.COMMIT, timer_token(ended, Timer.COMMIT)))
    machine.handle(TranscriptReceived(2.0, "so I was", final=False))
    late = machine.handle(TimerFired(4.5, Timer.TRANSCRIPT, timer_token(ended, Timer.TRANSCRIPT)))
    assert any(isinstance(a, Emit) and isinstance(a.event, ErrorEvent) for a in late)
    start = next(a for a in late if isinstance(a, StartResponse))
    assert start.user_text == "so I was"


def test_hangup_stops_output_then_records_what_was_heard_and_ends() -> None:
    machine = Conversation(POLICY)
    response = speaking(machine)
    assert machine.handle(HangupRequested(3.0, "caller hung up")) == [StopOutput(response)]
    after = machine.handle(OutputStopped(3.0, response, played=0.3))
    assert kinds(after) == ["CancelResponse", "EndSession"]
    assert EndSession("caller hung up") in after
    assert machine.history[-1] == ChatMessage("assistant", "one two", interrupted=True)
    assert machine.ended
    assert machine.handle(SpeechStarted(3.5, onset=3.4)) == []  # nothing after the end


def test_a_finished_response_is_history_in_full() -> None:
    machine = Conversation(POLICY)
    response = speaking(machine, "all of this")
    machine.handle(PlaybackFinished(4.0, response, played=0.75))
    assert machine.history[-1] == ChatMessage("assistant", "all of this")
    assert machine.response_id is None


def test_say_speaks_its_text_now_and_cancels_the_response_in_flight_first() -> None:
    machine = Conversation(POLICY)
    idle = machine.handle(SayRequested(0.0, "  Your table is booked. "))
    said = next(a for a in idle if isinstance(a, StartResponse))
    assert said.script == "Your table is booked."  # spoken as it is, no LLM asked
    machine.handle(PlaybackFinished(1.0, said.response_id, played=float("inf")))
    response = speaking(machine)
    assert kinds(machine.handle(SayRequested(3.0, "One moment."))) == ["PauseOutput"]
    after = machine.handle(OutputPaused(3.0, response, played=0.3))
    assert kinds(after) == ["CancelResponse", "StartResponse"]
    assert next(a for a in after if isinstance(a, StartResponse)).script == "One moment."
    assert machine.history[-1] == ChatMessage("assistant", "one two", interrupted=True)


def test_the_conversation_package_does_no_io_and_keeps_no_clock() -> None:
    """Invariant 7: the state machine is pure. Its modules import nothing that waits."""
    forbidden = {"asyncio", "socket", "threading", "time", "selectors", "subprocess", "os"}
    package = Path(__file__).parents[2] / "src" / "parley" / "conversation"
    for module in package.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{module.name} imports {name}"
