"""OpenAI Realtime: the server events parley reads, as pydantic models, and the mapping
between server VAD settings and parley's TurnTakingPolicy.

Event names follow the GA API; the beta names of the same events are accepted too
(response.audio.* for response.output_audio.*, response.audio_transcript.* for
response.output_audio_transcript.*).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from parley.conversation.policy import TurnTakingPolicy


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    event_id: str | None = None


class SpeechStarted(_Event):
    audio_start_ms: int
    item_id: str | None = None


class SpeechStopped(_Event):
    audio_end_ms: int
    item_id: str | None = None


class Committed(_Event):
    item_id: str
    previous_item_id: str | None = None


class TranscriptionDelta(_Event):
    item_id: str
    delta: str = ""


class TranscriptionCompleted(_Event):
    item_id: str
    transcript: str = ""


class TranscriptionFailed(_Event):
    item_id: str


class ResponseRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    status: str | None = None
    status_details: dict[str, Any] | None = None


class ResponseCreated(_Event):
    response: ResponseRef


class ResponseDone(_Event):
    response: ResponseRef


class ItemRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    type: str = "message"
    role: str | None = None


class OutputItemAdded(_Event):
    response_id: str
    item: ItemRef


class AudioDelta(_Event):
    response_id: str
    item_id: str
    delta: str


class AudioDone(_Event):
    response_id: str
    item_id: str


class AudioTranscriptDelta(_Event):
    response_id: str
    item_id: str
    delta: str = ""


class AudioTranscriptDone(_Event):
    response_id: str
    item_id: str
    transcript: str = ""


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str | None = None
    code: str | None = None
    message: str = ""
    event_id: str | None = None


class ServerError(_Event):
    error: ErrorDetail


MODELS: dict[str, type[_Event]] = {
    "input_audio_buffer.speech_started": SpeechStarted,
    "input_audio_buffer.speech_stopped": SpeechStopped,
    "input_audio_buffer.committed": Committed,
    "conversation.item.input_audio_transcription.delta": TranscriptionDelta,
    "conversation.item.input_audio_transcription.completed": TranscriptionCompleted,
    "conversation.item.input_audio_transcription.failed": TranscriptionFailed,
    "response.created": ResponseCreated,
    "response.done": ResponseDone,
    "response.output_item.added": OutputItemAdded,
    "response.output_audio.delta": AudioDelta,
    "response.audio.delta": AudioDelta,
    "response.output_audio.done": AudioDone,
    "response.audio.done": AudioDone,
    "response.output_audio_transcript.delta": AudioTranscriptDelta,
    "response.audio_transcript.delta": AudioTranscriptDelta,
    "response.output_audio_transcript.done": AudioTranscriptDone,
    "response.audio_transcript.done": AudioTranscriptDone,
    "error": ServerError,
}


# --- server VAD <-> TurnTakingPolicy ---------------------------------------------------------


class ServerVAD(BaseModel):
    """The `turn_detection` of a Realtime session that uses server VAD.

    parley keeps the decisions (pause, then decide; when to answer) in its own state machine,
    so the server only detects speech: it neither answers nor interrupts by itself.
    """

    model_config = ConfigDict(extra="ignore")

    type: Literal["server_vad"] = "server_vad"
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    create_response: bool = False
    interrupt_response: bool = False


def server_vad_from_policy(policy: TurnTakingPolicy) -> ServerVAD:
    """The server VAD that applies parley's turn-taking settings (threshold, prefix
    padding, turn-ending silence). The other settings stay parley's own."""
    return ServerVAD(
        threshold=policy.vad_threshold,
        prefix_padding_ms=policy.prefix_padding_ms,
        silence_duration_ms=policy.min_silence_ms,
    )


def policy_from_server_vad(
    turn_detection: ServerVAD | dict[str, Any], base: TurnTakingPolicy | None = None
) -> TurnTakingPolicy:
    """parley's policy with a Realtime client's server VAD settings applied (the way a
    Realtime-API client configures turn-taking). Values outside parley's bounds are
    rejected by the policy's own validation."""
    vad = (
        turn_detection
        if isinstance(turn_detection, ServerVAD)
        else ServerVAD.model_validate(turn_detection)
    )
    policy = base or TurnTakingPolicy()
    changes = {
        "vad_threshold": vad.threshold,
        "prefix_padding_ms": vad.prefix_padding_ms,
        "min_silence_ms": vad.silence_duration_ms,
    }
    return TurnTakingPolicy.model_validate({**policy.model_dump(), **changes})
