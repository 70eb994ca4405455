"""The session object of session.created and session.updated, in each dialect.

GA nests the audio settings (`audio.input.format`, `audio.input.turn_detection`, ...); beta
keeps them flat (`input_audio_format`, `turn_detection`, ...). Both show the session as it
really is: parley's turn-taking seen as server VAD, and no tools.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from parley.transports.realtime.config import RealtimeConfig, ServerVAD, Transcription
from parley.transports.realtime.formats import AudioFormat
from parley.transports.realtime.server_events import (
    Dialect,
    G711Format,
    Model,
    PcmFormat,
    ServerEvent,
    format_out,
)


class ServerVADOut(Model):
    type: Literal["server_vad"] = "server_vad"
    threshold: float
    prefix_padding_ms: int
    silence_duration_ms: int
    create_response: bool
    interrupt_response: bool
    idle_timeout_ms: None = None


class TranscriptionOut(Model):
    model: str | None
    language: str | None
    prompt: str | None


class GAInputOut(Model):
    format: PcmFormat | G711Format
    transcription: TranscriptionOut | None
    noise_reduction: None = None
    turn_detection: ServerVADOut | None


class GAOutputOut(Model):
    format: PcmFormat | G711Format
    voice: str
    speed: float = 1.0


class GAAudioOut(Model):
    input: GAInputOut
    output: GAOutputOut


class GASession(Model):
    type: Literal["realtime"] = "realtime"
    object: Literal["realtime.session"] = "realtime.session"
    id: str
    model: str
    output_modalities: list[str] = Field(default_factory=lambda: ["audio"])
    instructions: str
    audio: GAAudioOut
    tools: list[dict[str, Any]] = Field(default_factory=list)
    tool_choice: str | dict[str, str] = "auto"
    max_output_tokens: Literal["inf"] = "inf"
    tracing: None = None
    truncation: Literal["auto"] = "auto"
    prompt: None = None
    include: None = None


class BetaSession(Model):
    object: Literal["realtime.session"] = "realtime.session"
    id: str
    model: str
    modalities: list[str] = Field(default_factory=lambda: ["audio", "text"])
    instructions: str
    voice: str
    input_audio_format: AudioFormat
    output_audio_format: AudioFormat
    input_audio_transcription: TranscriptionOut | None
    turn_detection: ServerVADOut | None
    input_audio_noise_reduction: None = None
    tools: list[dict[str, Any]] = Field(default_factory=list)
    tool_choice: str = "auto"
    max_response_output_tokens: Literal["inf"] = "inf"
    speed: float = 1.0
    tracing: None = None


class SessionEvent(ServerEvent):
    type: Literal["session.created", "session.updated"]
    session: GASession | BetaSession


def render_session(
    config: RealtimeConfig, session_id: str, dialect: Dialect
) -> GASession | BetaSession:
    vad = _vad_out(config.turn_detection)
    transcription = _transcription_out(config.transcription)
    tools = [tool.model_dump() for tool in config.tools]
    choice = config.tool_choice
    if dialect.beta:
        return BetaSession(
            modalities=["text"] if config.text_only else ["audio", "text"],
            tools=tools,
            tool_choice=choice,
            id=session_id,
            model=config.model,
            instructions=config.instructions,
            voice=config.voice,
            input_audio_format=config.input_format,
            output_audio_format=config.output_format,
            input_audio_transcription=transcription,
            turn_detection=vad,
        )
    audio = GAAudioOut(
        input=GAInputOut(
            format=format_out(config.input_format), transcription=transcription, turn_detection=vad
        ),
        output=GAOutputOut(format=format_out(config.output_format), voice=config.voice),
    )
    ga_choice: str | dict[str, str] = choice
    if choice not in ("auto", "none", "required"):
        ga_choice = {"type": "function", "name": choice}
    return GASession(
        output_modalities=["text"] if config.text_only else ["audio"],
        id=session_id,
        model=config.model,
        instructions=config.instructions,
        audio=audio,
        tools=tools,
        tool_choice=ga_choice,
    )


def _vad_out(vad: ServerVAD | None) -> ServerVADOut | None:
    return None if vad is None else ServerVADOut(**vad.model_dump())


def _transcription_out(t: Transcription | None) -> TranscriptionOut | None:
    return None if t is None else TranscriptionOut(**t.model_dump())
