"""OpenAI Realtime: the server events parley reads, as pydantic models, the server VAD that
carries parley's TurnTakingPolicy, and the session.update that configures a connection.

Event names follow the GA API; the beta names of the same events are accepted too
(response.audio.* for response.output_audio.*, response.audio_transcript.* for
response.output_audio_transcript.*).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from parley.conversation.policy import TurnTakingPolicy
from parley.conversation.server_vad import server_vad_of
from parley.providers.cloud.config import OpenAIRealtimeSettings

INPUT_RATE = 24000  # the input audio: PCM16 at 24 kHz


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


class SessionUpdated(_Event):
    pass


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str | None = None
    code: str | None = None
    message: str = ""
    param: str | None = None
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
    "session.updated": SessionUpdated,
    "error": ServerError,
}


def parse_event(raw: str | bytes) -> _Event | None:
    """The event in one server message, parsed once; None for a type parley does not read.
    Raises ValueError (pydantic's ValidationError is one) for a malformed message."""
    data = json.loads(raw)
    kind = MODELS.get(str(data.get("type"))) if isinstance(data, dict) else None
    return None if kind is None else kind.model_validate(data)


# --- server VAD ------------------------------------------------------------------------------


def turn_detection(policy: TurnTakingPolicy) -> dict[str, Any]:
    """The session's `turn_detection`: server VAD with parley's turn-taking settings (the
    mapping the Realtime endpoint uses too). parley keeps the decisions (pause, then decide;
    when to answer) in its own state machine, so the server only detects speech: it neither
    answers nor interrupts by itself."""
    vad = server_vad_of(policy).model_copy(
        update={"create_response": False, "interrupt_response": False}
    )
    return {"type": "server_vad", **vad.model_dump()}


# --- session configuration -------------------------------------------------------------------


def output_format(rate: int) -> dict[str, Any]:
    """audio/pcmu at 8000 (phones), audio/pcm at 24000 otherwise."""
    return {"type": "audio/pcmu"} if rate == 8000 else {"type": "audio/pcm", "rate": rate}


def session_update(
    settings: OpenAIRealtimeSettings,
    event_id: str,
    *,
    turn_detection: dict[str, Any] | None,
    output_rate: int,
    instructions: str | None,
) -> dict[str, Any]:
    """A connection's first event: audio in and out, transcription, and the server VAD (None
    with a local VAD, whose hints commit the audio)."""
    session: dict[str, Any] = {
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": INPUT_RATE},
                "transcription": {"model": settings.transcription_model},
                "turn_detection": turn_detection,
            },
            "output": {"format": output_format(output_rate), "voice": settings.voice},
        },
    }
    if instructions is not None:
        session["instructions"] = instructions
    return {"type": "session.update", "event_id": event_id, "session": session}
