"""What the endpoint sends: pydantic models of the Realtime API's server events.

Shapes follow the API's reference (and the official SDK's types, which the tests check every
event against). GA and beta differ in a few names (`Dialect`), in the session object (nested
`audio` vs flat fields) and in the response object; everything else is shared.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from parley.transports.realtime.config import RealtimeConfig
from parley.transports.realtime.formats import TO_GA, AudioFormat


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:22]}"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerEvent(Model):
    """The base of every event the endpoint sends."""

    event_id: str = Field(default_factory=lambda: new_id("event"))


@dataclass(frozen=True, slots=True)
class Dialect:
    """The names that differ between the beta API and the GA one."""

    beta: bool

    @property
    def audio_delta(self) -> Literal["response.audio.delta", "response.output_audio.delta"]:
        return "response.audio.delta" if self.beta else "response.output_audio.delta"

    @property
    def audio_done(self) -> Literal["response.audio.done", "response.output_audio.done"]:
        return "response.audio.done" if self.beta else "response.output_audio.done"

    @property
    def transcript_delta(
        self,
    ) -> Literal["response.audio_transcript.delta", "response.output_audio_transcript.delta"]:
        return (
            "response.audio_transcript.delta"
            if self.beta
            else "response.output_audio_transcript.delta"
        )

    @property
    def transcript_done(
        self,
    ) -> Literal["response.audio_transcript.done", "response.output_audio_transcript.done"]:
        return (
            "response.audio_transcript.done"
            if self.beta
            else "response.output_audio_transcript.done"
        )

    @property
    def item_added(self) -> Literal["conversation.item.created", "conversation.item.added"]:
        return "conversation.item.created" if self.beta else "conversation.item.added"

    @property
    def assistant_audio(self) -> Literal["audio", "output_audio"]:
        return "audio" if self.beta else "output_audio"

    @property
    def assistant_text(self) -> Literal["text", "output_text"]:
        return "text" if self.beta else "output_text"

    @property
    def text_delta(self) -> Literal["response.text.delta", "response.output_text.delta"]:
        return "response.text.delta" if self.beta else "response.output_text.delta"

    @property
    def text_done(self) -> Literal["response.text.done", "response.output_text.done"]:
        return "response.text.done" if self.beta else "response.output_text.done"


# --- errors ----------------------------------------------------------------------------------


class ErrorDetail(Model):
    type: Literal["invalid_request_error", "server_error"]
    code: str | None
    message: str
    param: str | None = None
    event_id: str | None = None


class Error(ServerEvent):
    type: Literal["error"] = "error"
    error: ErrorDetail


# --- audio formats ---------------------------------------------------------------------------


class PcmFormat(Model):
    type: Literal["audio/pcm"] = "audio/pcm"
    rate: Literal[24000] = 24000


class G711Format(Model):
    type: Literal["audio/pcmu", "audio/pcma"]


def format_out(audio_format: AudioFormat) -> PcmFormat | G711Format:
    name = TO_GA[audio_format]
    return PcmFormat() if name == "audio/pcm" else G711Format(type=name)


# --- the input audio buffer ------------------------------------------------------------------


class SpeechStarted(ServerEvent):
    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    audio_start_ms: int
    item_id: str


class SpeechStopped(ServerEvent):
    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    audio_end_ms: int
    item_id: str


class Committed(ServerEvent):
    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | None


class Cleared(ServerEvent):
    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


# --- conversation items ----------------------------------------------------------------------


class InputText(Model):
    type: Literal["input_text"] = "input_text"
    text: str


class InputAudio(Model):
    type: Literal["input_audio"] = "input_audio"
    transcript: str | None


class OutputAudio(Model):
    type: Literal["audio", "output_audio"]
    transcript: str


class OutputText(Model):
    type: Literal["text", "output_text"]
    text: str


ItemStatus = Literal["completed", "incomplete", "in_progress"]


class MessageItem(Model):
    id: str
    object: Literal["realtime.item"] = "realtime.item"
    type: Literal["message"] = "message"
    status: ItemStatus
    role: Literal["user", "assistant"]
    content: list[InputText | InputAudio | OutputAudio | OutputText]


class FunctionCallItem(Model):
    """The model called one of the client's functions; the client runs it."""

    id: str
    object: Literal["realtime.item"] = "realtime.item"
    type: Literal["function_call"] = "function_call"
    status: ItemStatus
    call_id: str
    name: str
    arguments: str


class FunctionCallOutputItem(Model):
    """The client's result of a function call."""

    id: str
    object: Literal["realtime.item"] = "realtime.item"
    type: Literal["function_call_output"] = "function_call_output"
    status: ItemStatus = "completed"
    call_id: str
    output: str


Item = MessageItem | FunctionCallItem | FunctionCallOutputItem


class ItemEvent(ServerEvent):
    type: Literal["conversation.item.created", "conversation.item.added", "conversation.item.done"]
    previous_item_id: str | None
    item: Item


class FunctionCallArgumentsDelta(ServerEvent):
    type: Literal["response.function_call_arguments.delta"] = (
        "response.function_call_arguments.delta"
    )
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    delta: str


class FunctionCallArgumentsDone(ServerEvent):
    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    response_id: str
    item_id: str
    output_index: int
    call_id: str
    name: str
    arguments: str


class ItemTruncated(ServerEvent):
    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"
    item_id: str
    content_index: int
    audio_end_ms: int


class TranscriptionDelta(ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta"
    )
    item_id: str
    content_index: int = 0
    delta: str


class DurationUsage(Model):
    type: Literal["duration"] = "duration"
    seconds: float


class TranscriptionCompleted(ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    item_id: str
    content_index: int = 0
    transcript: str
    usage: DurationUsage


class TranscriptionError(Model):
    type: Literal["transcription_error"] = "transcription_error"
    code: str
    message: str
    param: None = None


class TranscriptionFailed(ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed"
    )
    item_id: str
    content_index: int = 0
    error: TranscriptionError


# --- responses -------------------------------------------------------------------------------


class Usage(Model):
    """The LLM's text tokens, as its provider counted them (or estimated where it does not
    count: docs/realtime.md). Audio is not counted in tokens: parley's STT and TTS are
    separate models. Zeros until a response's LLM has finished."""

    total_tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    input_token_details: dict[str, int] = {"text_tokens": 0, "audio_tokens": 0, "cached_tokens": 0}
    output_token_details: dict[str, int] = {"text_tokens": 0, "audio_tokens": 0}

    @classmethod
    def of(cls, read: int, written: int) -> Usage:
        return cls(
            total_tokens=read + written,
            input_tokens=read,
            output_tokens=written,
            input_token_details={"text_tokens": read, "audio_tokens": 0, "cached_tokens": 0},
            output_token_details={"text_tokens": written, "audio_tokens": 0},
        )


class StatusError(Model):
    type: Literal["server_error"] = "server_error"
    code: str
    message: str


class StatusDetails(Model):
    type: Literal["cancelled", "failed", "incomplete"]
    reason: Literal["turn_detected", "client_cancelled"] | None = None
    error: StatusError | None = None


ResponseStatus = Literal["in_progress", "completed", "cancelled", "failed"]


class _Response(Model):
    object: Literal["realtime.response"] = "realtime.response"
    id: str
    status: ResponseStatus
    status_details: StatusDetails | None
    output: list[MessageItem | FunctionCallItem]
    conversation_id: str
    usage: Usage | None
    metadata: dict[str, str] | None
    max_output_tokens: Literal["inf"] = "inf"


class GAResponseOutput(Model):
    format: PcmFormat | G711Format
    voice: str


class GAResponseAudio(Model):
    output: GAResponseOutput


class GAResponse(_Response):
    output_modalities: list[Literal["audio", "text"]] = ["audio"]
    audio: GAResponseAudio


class BetaResponse(_Response):
    modalities: list[Literal["audio", "text"]] = ["audio", "text"]
    voice: str
    output_audio_format: AudioFormat


class ResponseEvent(ServerEvent):
    type: Literal["response.created", "response.done"]
    response: GAResponse | BetaResponse


def render_response(
    dialect: Dialect,
    config: RealtimeConfig,
    common: dict[str, Any],
    *,
    text_only: bool = False,
) -> GAResponse | BetaResponse:
    """The response object: `common` holds the fields both dialects share."""
    if dialect.beta:
        modalities: list[Literal["audio", "text"]] = ["text"] if text_only else ["audio", "text"]
        return BetaResponse(voice=config.voice, output_audio_format=config.output_format,
                            modalities=modalities, **common)  # fmt: skip
    output = GAResponseOutput(format=format_out(config.output_format), voice=config.voice)
    return GAResponse(audio=GAResponseAudio(output=output),
                      output_modalities=["text" if text_only else "audio"], **common)  # fmt: skip


class OutputItemEvent(ServerEvent):
    type: Literal["response.output_item.added", "response.output_item.done"]
    response_id: str
    output_index: int = 0
    item: MessageItem | FunctionCallItem


class Part(Model):
    type: Literal["audio"] = "audio"
    transcript: str


class TextPart(Model):
    type: Literal["text"] = "text"
    text: str


class ContentPartEvent(ServerEvent):
    type: Literal["response.content_part.added", "response.content_part.done"]
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    part: Part | TextPart


class AudioDelta(ServerEvent):
    type: Literal["response.output_audio.delta", "response.audio.delta"]
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    delta: str


class AudioDone(ServerEvent):
    type: Literal["response.output_audio.done", "response.audio.done"]
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0


class TranscriptDelta(ServerEvent):
    type: Literal["response.output_audio_transcript.delta", "response.audio_transcript.delta"]
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    delta: str


class TranscriptDone(ServerEvent):
    type: Literal["response.output_audio_transcript.done", "response.audio_transcript.done"]
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    transcript: str


class TextDelta(ServerEvent):
    type: Literal["response.output_text.delta", "response.text.delta"]
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    delta: str


class TextDone(ServerEvent):
    type: Literal["response.output_text.done", "response.text.done"]
    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0
    text: str


class ItemRetrieved(ServerEvent):
    type: Literal["conversation.item.retrieved"] = "conversation.item.retrieved"
    item: Item


class ItemDeleted(ServerEvent):
    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"
    item_id: str
