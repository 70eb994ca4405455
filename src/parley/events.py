"""Session events: what a session tells its transport and observers.

These are wire-neutral. Each transport translates the ones its protocol has a word for
(browser JSON, Twilio marks, Realtime API events) and ignores the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from parley.timing import TurnTimings


@dataclass(frozen=True, slots=True)
class UserSpeechStarted:
    at: float


@dataclass(frozen=True, slots=True)
class UserSpeechStopped:
    at: float


@dataclass(frozen=True, slots=True)
class UserTranscript:
    text: str
    final: bool


@dataclass(frozen=True, slots=True)
class UserSpeechTranscribed:
    """The STT has answered the end of a stretch of speech: every final transcript of it has
    been sent (as UserTranscript; none if it held no words). Lets a transport tie transcripts
    to the speech they came from (the Realtime API's transcription.completed)."""


@dataclass(frozen=True, slots=True)
class UserDtmf:
    """The person pressed a key on a phone's keypad."""

    digit: str


@dataclass(frozen=True, slots=True)
class AgentResponseStarted:
    response_id: str


@dataclass(frozen=True, slots=True)
class AgentSpeaking:
    """The first audio of a response went out."""

    response_id: str


@dataclass(frozen=True, slots=True)
class AgentTranscript:
    """Text of a response as it is handed to speech synthesis, segment by segment."""

    response_id: str
    text: str


@dataclass(frozen=True, slots=True)
class AgentToolCall:
    """The model called a function the client runs (a Realtime client's tool): the client
    answers with its result, then asks for a response."""

    response_id: str
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class AgentPaused:
    """Speech was heard over the agent: its audio stopped, the decision is pending."""

    response_id: str


@dataclass(frozen=True, slots=True)
class AgentResumed:
    """The speech was a backchannel or noise: playback goes on from where it paused."""

    response_id: str


@dataclass(frozen=True, slots=True)
class AgentResponseDone:
    """A response ended. `text` is what the person heard of it."""

    response_id: str
    text: str
    status: Literal["completed", "interrupted", "cancelled"]


@dataclass(frozen=True, slots=True)
class ResponseUsage:
    """Tokens a response's LLM requests read and wrote (summed over tool rounds);
    `estimated` when the provider reported none for some request (docs/tools.md)."""

    response_id: str
    input_tokens: int
    output_tokens: int
    estimated: bool


@dataclass(frozen=True, slots=True)
class TurnMetrics:
    timings: TurnTimings


ErrorCode = Literal[
    "stt_failed",  # the STT stream failed (it is reopened)
    "stt_timeout",  # no final transcript within transcript_timeout_ms
    "llm_failed",  # the LLM failed mid-response: what came is spoken
    "tts_failed",  # the TTS failed mid-response
    "vad_failed",  # the VAD failed on a frame
    "tool_failed",  # a tool call failed or timed out: the model reads the error
    "tools_unsupported",  # a client offered tools, and the configured LLM cannot call any
    "internal_error",  # a bug: a task, an inbound item or the dispatch raised
    "conversation_already_has_active_response",  # a response was asked for during one
    "response_cancel_not_active",  # a cancel with no response in progress
]
"""The codes of ErrorEvent. They go to clients as they are (docs/protocol.md): never rename."""


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """Something went wrong; the session goes on. `code` is stable, `message` is for people."""

    code: ErrorCode
    message: str


@dataclass(frozen=True, slots=True)
class SessionEnded:
    reason: str


SessionEvent = (
    UserSpeechStarted
    | UserSpeechStopped
    | UserTranscript
    | UserSpeechTranscribed
    | UserDtmf
    | AgentResponseStarted
    | AgentSpeaking
    | AgentTranscript
    | AgentToolCall
    | AgentPaused
    | AgentResumed
    | AgentResponseDone
    | ResponseUsage
    | TurnMetrics
    | ErrorEvent
    | SessionEnded
)
