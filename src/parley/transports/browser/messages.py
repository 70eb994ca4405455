"""The browser protocol's messages, as pydantic models (docs/protocol.md).

Client messages carry `type`, server messages `event`, as the established browser voice-bot
protocol has it. Fields a client adds that parley does not know are ignored, so clients may
carry their own bookkeeping; a missing or unknown `type` is an error the client is told about.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from parley.audio.frames import SUPPORTED_RATES

# --- client -> server --------------------------------------------------------------------


class _ClientMessage(BaseModel):
    # No NaN or infinity in any number (1e400 parses as one): positions are computed with.
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)


MAX_PLAYED_S = 24 * 3600  # no response plays longer than a day


class SpeechStart(_ClientMessage):
    """The page's VAD heard speech begin."""

    type: Literal["speech_start"]


class SpeechEnd(_ClientMessage):
    """The whole utterance, base64 of a WAV or WebM/Opus (or Ogg/Opus) file."""

    type: Literal["speech_end"]
    audio: str


class PlaybackStartedMessage(_ClientMessage):
    type: Literal["client_playback_started"]
    response_id: str | None = None


class PlaybackCompleteMessage(_ClientMessage):
    type: Literal["client_playback_complete"]
    response_id: str | None = None
    played_seconds: float | None = Field(None, ge=0, le=MAX_PLAYED_S)


class PlaybackPosition(_ClientMessage):
    """How much of a response the listener has heard, in seconds from its start."""

    type: Literal["playback_position"]
    response_id: str = Field(min_length=1, max_length=200)
    played_seconds: float = Field(ge=0, le=MAX_PLAYED_S)


class StartStream(_ClientMessage):
    """Streaming mode: binary frames of PCM16 little-endian mono at `sample_rate` follow."""

    type: Literal["start_stream"]
    sample_rate: int
    encoding: Literal["pcm_s16le"] = "pcm_s16le"

    @field_validator("sample_rate")
    @classmethod
    def _supported(cls, rate: int) -> int:
        if rate not in SUPPORTED_RATES:
            rates = ", ".join(str(r) for r in sorted(SUPPORTED_RATES))
            raise ValueError(f"{rate} Hz is not one of {rates}")
        return rate


class HangupMessage(_ClientMessage):
    type: Literal["hangup"]
    reason: str | None = Field(None, max_length=200)


ClientMessage = Annotated[
    SpeechStart
    | SpeechEnd
    | PlaybackStartedMessage
    | PlaybackCompleteMessage
    | PlaybackPosition
    | StartStream
    | HangupMessage,
    Field(discriminator="type"),
]
CLIENT_MESSAGE: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
CLIENT_TYPES = (
    "speech_start", "speech_end", "client_playback_started", "client_playback_complete",
    "playback_position", "start_stream", "hangup",
)  # fmt: skip


def describe_invalid(exc: ValidationError) -> tuple[str, str]:
    """An error code and a sentence naming what was wrong with a client message."""
    error = exc.errors(include_url=False)[0]
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "json_invalid":
        return "malformed_json", f"message is not valid JSON ({ctx.get('error', error['msg'])})"
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag"))[:40]
        return "unknown_type", f"unknown message type {tag!r} (known: {', '.join(CLIENT_TYPES)})"
    loc = error["loc"]
    if kind in ("union_tag_not_found", "model_attributes_type", "model_type", "dict_type"):
        return "missing_type", "message must be a JSON object with a `type` field"
    where = ".".join(str(part) for part in loc[1:]) or "message"
    message_type = loc[0] if loc else "the"
    return "invalid_message", f"invalid {message_type} message ({where}: {error['msg'][:120]})"


# --- server -> client --------------------------------------------------------------------


class _ServerMessage(BaseModel):
    model_config = ConfigDict(frozen=True)


class PageVAD(BaseModel):
    """The session's turn-taking policy, in the option names of the page's Silero VAD."""

    positive_speech_threshold: float
    negative_speech_threshold: float
    redemption_ms: int
    pre_speech_pad_ms: int
    min_speech_ms: int


class Connected(_ServerMessage):
    event: Literal["connected"] = "connected"
    message: str
    session_id: str
    output_sample_rate: int
    audio_format: Literal["wav"] = "wav"
    vad: PageVAD
    recording: bool = False  # the call's audio is recorded (docs/recordings.md): the page says so


class PlayAudio(_ServerMessage):
    """A piece of agent speech: base64 of a 16-bit mono WAV, `offset` s into the response."""

    event: Literal["play_audio"] = "play_audio"
    audio: str
    response_id: str
    offset: float
    duration: float
    sample_rate: int


class StopPlayback(_ServerMessage):
    event: Literal["stop_playback"] = "stop_playback"


class PlaybackResume(_ServerMessage):
    event: Literal["playback_resume"] = "playback_resume"
    response_id: str


class AgentPausedMessage(_ServerMessage):
    event: Literal["agent_paused"] = "agent_paused"
    response_id: str


class ErrorMessage(_ServerMessage):
    event: Literal["error"] = "error"
    code: str
    message: str


class UserSpeech(_ServerMessage):
    event: Literal["user_speech_started", "user_speech_stopped"]


class UserTranscriptMessage(_ServerMessage):
    event: Literal["user_transcript"] = "user_transcript"
    text: str
    final: bool


class AgentResponseStartedMessage(_ServerMessage):
    event: Literal["agent_response_started"] = "agent_response_started"
    response_id: str


class AgentTranscriptMessage(_ServerMessage):
    """Partial: the next piece of text going to speech. Final: what the person heard."""

    event: Literal["agent_transcript"] = "agent_transcript"
    response_id: str
    text: str
    final: bool


class AgentResponseDoneMessage(_ServerMessage):
    event: Literal["agent_response_done"] = "agent_response_done"
    response_id: str
    status: Literal["completed", "interrupted", "cancelled"]


class TurnMetricsMessage(_ServerMessage):
    """One turn's timings in ms, each stage relative to `origin` (end of the user's speech)."""

    event: Literal["turn_metrics"] = "turn_metrics"
    response_id: str
    status: str
    user_text: str
    origin: Literal["speech_ended", "committed"]
    voice_to_voice_ms: float | None
    stages_ms: dict[str, float]
    preemptive: bool = False  # the answer was generated before the turn was confirmed
    preemptive_dropped: int = 0  # preemptive answers dropped unheard during the turn
    turn_verdict: str | None = None  # the turn detector's last answer (None: no detector)
    tool_calls: int = 0  # functions the model called for this answer
    tool_ms: float = 0.0  # time spent waiting for them


class SessionEndedMessage(_ServerMessage):
    event: Literal["session_ended"] = "session_ended"
    reason: str


ServerMessage = (
    Connected
    | PlayAudio
    | StopPlayback
    | PlaybackResume
    | AgentPausedMessage
    | ErrorMessage
    | UserSpeech
    | UserTranscriptMessage
    | AgentResponseStartedMessage
    | AgentTranscriptMessage
    | AgentResponseDoneMessage
    | TurnMetricsMessage
    | SessionEndedMessage
)
