"""What the conversation state machine hears: timestamped facts from the runtime.

Every input carries `at`, the session clock when it happened; the machine has no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from parley.conversation.policy import TurnTakingPolicy
from parley.types import ChatMessage, TimedWord, ToolCall


class Timer(StrEnum):
    """The machine's timers. The runtime arms them on request and reports when they fire."""

    COMMIT = "commit"  # merge gap after the turn-ending silence
    FALSE_INTERRUPTION = "false_interruption"  # no words after speech that paused the agent
    TRANSCRIPT = "transcript"  # the final transcript is late
    KEYPAD = "keypad"  # no key pressed for a while: the keypad entry is complete
    TURN_CHECK = "turn_check"  # silence long enough to ask the turn detector
    SILENCE = "silence"  # with a turn detector: the plain silence policy ends the turn
    PREEMPT = "preempt"  # without one: silence long enough to start a preemptive answer
    PAUSED_DECISION = "paused_decision"  # agent paused by speech: silence long enough to decide


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    at: float
    onset: float  # first voiced audio; `at` is when the VAD decided


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    at: float
    last_voiced: float  # last voiced audio; `at` is after the turn-ending silence


@dataclass(frozen=True, slots=True)
class SpeechPaused:
    """The person went quiet mid-speech; the VAD has not ended their speech (yet)."""

    at: float
    last_voiced: float


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    """The person spoke again after a SpeechPaused, before the VAD ended their speech."""

    at: float


@dataclass(frozen=True, slots=True)
class TurnPredicted:
    """The turn detector's answer to PredictTurn `token`: whether the turn is complete
    (None: the detector failed; the plain silence policy decides)."""

    at: float
    token: int
    complete: bool | None
    probability: float | None = None


@dataclass(frozen=True, slots=True)
class TranscriptReceived:
    """A transcript from STT.

    `final` texts are settled; partial ones may still change. `complete` marks the final that
    answers the end-of-speech hint: STT has nothing more for the audio so far.
    """

    at: float
    text: str
    final: bool
    complete: bool = False


@dataclass(frozen=True, slots=True)
class TranscriptFailed:
    at: float
    message: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    at: float
    timer: Timer
    token: int


@dataclass(frozen=True, slots=True)
class WordsAligned:
    """Words of a response and where they sit in its audio (response-relative seconds)."""

    at: float
    response_id: str
    words: tuple[TimedWord, ...]


@dataclass(frozen=True, slots=True)
class PlaybackStarted:
    at: float
    response_id: str


@dataclass(frozen=True, slots=True)
class OutputPaused:
    """Answer to PauseOutput: how much of the response had been played."""

    at: float
    response_id: str
    played: float


@dataclass(frozen=True, slots=True)
class OutputStopped:
    """Answer to StopOutput: how much of the response had been played."""

    at: float
    response_id: str
    played: float


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    """All audio of a response whose generation ended has been played."""

    at: float
    response_id: str
    played: float


ResponseStage = Literal["llm", "tts"]  # the provider of a response that failed


@dataclass(frozen=True, slots=True)
class ResponseFailed:
    at: float
    response_id: str
    stage: ResponseStage
    message: str


@dataclass(frozen=True, slots=True)
class ToolCallsFinished:
    """A round of tool calls of a response ran: the assistant's calls and their results,
    for the history. They join it even if the response was cancelled meanwhile."""

    at: float
    response_id: str
    messages: tuple[ChatMessage, ...]


@dataclass(frozen=True, slots=True)
class ToolCallsRequested:
    """The model called functions the client runs (a Realtime client's tools): the calls
    join the history, and the client is told; its results come as ToolResultAdded."""

    at: float
    response_id: str
    calls: tuple[ToolCall, ...]


@dataclass(frozen=True, slots=True)
class ToolResultAdded:
    """The client's result of a function call (a Realtime function_call_output item)."""

    at: float
    call_id: str
    output: str


@dataclass(frozen=True, slots=True)
class HangupRequested:
    at: float
    reason: str


@dataclass(frozen=True, slots=True)
class SayRequested:
    """Speak `text` as it is, now (the sessions API's say): a response in flight is
    cancelled first; the words join the history as the agent's, as far as they are heard."""

    at: float
    text: str


@dataclass(frozen=True, slots=True)
class UserTextAdded:
    """A user message given as text (typed, or an API item) rather than spoken.

    With `respond`, it is answered at once, interrupting a response in flight; without, it
    only joins the history (the Realtime API's conversation.item.create).
    """

    at: float
    text: str
    respond: bool


@dataclass(frozen=True, slots=True)
class ResponseRequested:
    """Answer now, from the history as it stands (manual turns: response.create)."""

    at: float


@dataclass(frozen=True, slots=True)
class CancelRequested:
    """Stop the response in flight; keep what was heard of it (response.cancel)."""

    at: float


@dataclass(frozen=True, slots=True)
class TruncateRequested:
    """The client says only `played` seconds of a response were heard (item.truncate)."""

    at: float
    response_id: str
    played: float


@dataclass(frozen=True, slots=True)
class KeyPressed:
    """A key on a phone's keypad (DTMF): 0-9, *, #, A-D."""

    at: float
    key: str


@dataclass(frozen=True, slots=True)
class InstructionsChanged:
    at: float
    instructions: str


@dataclass(frozen=True, slots=True)
class PolicyChanged:
    """New turn-taking settings from now on (a Realtime client's session.update, say)."""

    at: float
    policy: TurnTakingPolicy


ConversationInput = (
    SpeechStarted
    | SpeechEnded
    | SpeechPaused
    | SpeechResumed
    | TurnPredicted
    | TranscriptReceived
    | TranscriptFailed
    | TimerFired
    | WordsAligned
    | PlaybackStarted
    | OutputPaused
    | OutputStopped
    | PlaybackFinished
    | ResponseFailed
    | ToolCallsFinished
    | ToolCallsRequested
    | ToolResultAdded
    | HangupRequested
    | UserTextAdded
    | SayRequested
    | ResponseRequested
    | CancelRequested
    | TruncateRequested
    | InstructionsChanged
    | KeyPressed
    | PolicyChanged
)
