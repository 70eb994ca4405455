"""What the conversation state machine asks the runtime to do."""

from __future__ import annotations

from dataclasses import dataclass

from parley.conversation.inputs import Timer
from parley.events import SessionEvent
from parley.types import ChatMessage


@dataclass(frozen=True, slots=True)
class PauseOutput:
    """Stop the response's audio now, keep its position; answered by OutputPaused."""

    response_id: str


@dataclass(frozen=True, slots=True)
class ResumeOutput:
    """Play on from the paused position."""

    response_id: str


@dataclass(frozen=True, slots=True)
class StopOutput:
    """Stop all agent audio now (hangup); answered by OutputStopped."""

    response_id: str


@dataclass(frozen=True, slots=True)
class StartResponse:
    """Generate and speak a reply to `messages` (the history, ending with the user's turn).
    `held`: a preemptive answer; generate it, but play nothing and tell no client until
    ReleaseResponse (or drop it with DropResponse)."""

    response_id: str
    messages: tuple[ChatMessage, ...]
    user_text: str
    held: bool = False
    script: str | None = None  # speak this text as it is, without asking the LLM (say)


@dataclass(frozen=True, slots=True)
class ReleaseResponse:
    """The held (preemptive) response answers the turn after all: play it, announce it."""

    response_id: str
    user_text: str


@dataclass(frozen=True, slots=True)
class DropResponse:
    """The held (preemptive) response is not wanted: stop it; nothing of it was heard or shown."""

    response_id: str


@dataclass(frozen=True, slots=True)
class PredictTurn:
    """Ask the turn detector whether the person's turn is complete, from their audio so far;
    answered by TurnPredicted with the same token."""

    token: int


@dataclass(frozen=True, slots=True)
class EndSpeech:
    """The person's turn is over though the VAD still hears them pausing: end their speech
    now (the VAD starts afresh, STT is told), answered by SpeechEnded."""


@dataclass(frozen=True, slots=True)
class CancelResponse:
    """Drop the response's audio at once; stop and close its providers in the background.
    `played`: seconds of its audio the person heard (a provider may need to know)."""

    response_id: str
    reason: str
    played: float


@dataclass(frozen=True, slots=True)
class StartTimer:
    timer: Timer
    token: int
    deadline: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer: Timer


@dataclass(frozen=True, slots=True)
class Emit:
    event: SessionEvent


@dataclass(frozen=True, slots=True)
class EndSession:
    reason: str


Action = (
    PauseOutput
    | ResumeOutput
    | StopOutput
    | StartResponse
    | ReleaseResponse
    | DropResponse
    | PredictTurn
    | EndSpeech
    | CancelResponse
    | StartTimer
    | CancelTimer
    | Emit
    | EndSession
)
