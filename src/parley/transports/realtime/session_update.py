"""session.update in both dialects: the wire models, and what an update changes.

GA clients nest the audio settings (`audio.input.format`, `audio.input.turn_detection`, ...);
beta clients (the `OpenAI-Beta: realtime=v1` header) send flat fields (`input_audio_format`,
`turn_detection`, ...). Each dialect's model forbids the other's fields, as the API does, so
a client speaking the wrong dialect hears `unknown_parameter` naming the field.

An update is applied in full or not at all when it is invalid. Settings parley accepts but
cannot honour (text-only output, semantic VAD, tools other than functions, ...) are reported
one by one with an `unsupported_value` error and left as they were; the rest of the update
applies, and session.updated shows the session as it really is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from parley.transports.realtime.config import (
    FunctionTool,
    RealtimeConfig,
    ServerVAD,
    Transcription,
)
from parley.transports.realtime.formats import FROM_GA, AudioFormat, GAFormatName

MAX_AUDIO_MS = 24 * 3600 * 1000  # no stretch of audio parley counts is longer than a day


class _Strict(BaseModel):
    # No NaN or infinity in any number (1e400 parses as one).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class NoiseReduction(_Strict):
    type: Literal["near_field", "far_field"] | None = None
    strength: float | None = None


class VoiceId(_Strict):
    id: str


# --- GA ------------------------------------------------------------------------------------


class GAAudioFormat(_Strict):
    type: GAFormatName
    rate: Literal[24000] | None = None


class GAServerVAD(_Strict):
    type: Literal["server_vad"]
    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None
    idle_timeout_ms: int | None = None


class SemanticVAD(_Strict):
    type: Literal["semantic_vad"]
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None


class GATranscription(_Strict):
    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    delay: str | None = None
    keywords: list[str] | None = None
    languages: list[str] | None = None


class GAAudioInput(_Strict):
    format: GAAudioFormat | None = None
    turn_detection: Annotated[GAServerVAD | SemanticVAD, Field(discriminator="type")] | None = None
    transcription: GATranscription | None = None
    noise_reduction: NoiseReduction | None = None


class GAAudioOutput(_Strict):
    format: GAAudioFormat | None = None
    voice: str | VoiceId | None = None
    speed: float | None = None


class GAAudio(_Strict):
    input: GAAudioInput | None = None
    output: GAAudioOutput | None = None


class GASessionUpdate(_Strict):
    type: Literal["realtime", "transcription"] | None = None
    model: str | None = None
    instructions: str | None = None
    output_modalities: list[Literal["text", "audio"]] | None = None
    audio: GAAudio | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    tracing: str | dict[str, Any] | None = None
    truncation: str | dict[str, Any] | None = None
    include: list[str] | None = None
    prompt: dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    reasoning: dict[str, Any] | None = None


# --- beta ----------------------------------------------------------------------------------


class BetaTurnDetection(_Strict):
    type: Literal["server_vad", "semantic_vad"] = "server_vad"
    threshold: float | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None
    create_response: bool | None = None
    interrupt_response: bool | None = None
    eagerness: Literal["low", "medium", "high", "auto"] | None = None
    idle_timeout_ms: int | None = None


class BetaTranscription(_Strict):
    model: str | None = None
    language: str | None = None
    prompt: str | None = None


class BetaSessionUpdate(_Strict):
    modalities: list[Literal["text", "audio"]] | None = None
    instructions: str | None = None
    voice: str | None = None
    input_audio_format: AudioFormat | None = None
    output_audio_format: AudioFormat | None = None
    input_audio_transcription: BetaTranscription | None = None
    turn_detection: BetaTurnDetection | None = None
    input_audio_noise_reduction: NoiseReduction | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | None = None
    temperature: float | None = None
    max_response_output_tokens: int | Literal["inf"] | None = None
    speed: float | None = None
    tracing: str | dict[str, Any] | None = None
    model: str | None = None
    # Read-only fields of the session object, which some clients send back whole.
    id: str | None = None
    object: str | None = None
    expires_at: int | None = None
    client_secret: dict[str, Any] | None = None
    include: list[str] | None = None


# --- what an update changes ----------------------------------------------------------------


@dataclass
class Problem:
    param: str
    message: str


@dataclass
class SessionChange:
    """The new settings, and the parts of the update that were not applied."""

    config: RealtimeConfig
    unsupported: list[Problem] = field(default_factory=list)


def change_from_ga(
    update: GASessionUpdate, config: RealtimeConfig, defaults: ServerVAD
) -> SessionChange:
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    if update.type == "transcription":
        problems.append(
            Problem(
                "session.type",
                "transcription-only sessions are not supported: parley holds a conversation",
            )
        )
    _common(update.instructions, update.prompt, values, problems, "session")
    _tools(update.tools, update.tool_choice, values, problems, "session")
    if update.output_modalities is not None:
        values["text_only"] = "audio" not in update.output_modalities
    audio = update.audio
    inp = audio.input if audio is not None else None
    out = audio.output if audio is not None else None
    if inp is not None:
        if inp.format is not None:
            values["input_format"] = FROM_GA[inp.format.type]
        if "turn_detection" in inp.model_fields_set:
            td = inp.turn_detection
            where = "session.audio.input.turn_detection"
            if isinstance(td, SemanticVAD):
                problems.append(_semantic(where))
            else:
                values["turn_detection"] = _server_vad(td, defaults, problems, where)
        if "transcription" in inp.model_fields_set:
            t = inp.transcription
            values["transcription"] = (
                None
                if t is None
                else Transcription(model=t.model, language=t.language, prompt=t.prompt)
            )
    if out is not None:
        if out.format is not None:
            values["output_format"] = FROM_GA[out.format.type]
        if out.voice is not None:
            values["voice"] = out.voice if isinstance(out.voice, str) else out.voice.id
    return SessionChange(config.model_copy(update=values), problems)


def change_from_beta(
    update: BetaSessionUpdate, config: RealtimeConfig, defaults: ServerVAD
) -> SessionChange:
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    _common(update.instructions, None, values, problems, "session")
    _tools(update.tools, update.tool_choice, values, problems, "session")
    if update.modalities is not None:
        values["text_only"] = "audio" not in update.modalities
    if update.input_audio_format is not None:
        values["input_format"] = update.input_audio_format
    if update.output_audio_format is not None:
        values["output_format"] = update.output_audio_format
    if update.voice is not None:
        values["voice"] = update.voice
    if "turn_detection" in update.model_fields_set:
        td = update.turn_detection
        if td is not None and td.type == "semantic_vad":
            problems.append(_semantic("session.turn_detection"))
        else:
            values["turn_detection"] = _server_vad(td, defaults, problems, "session.turn_detection")
    if "input_audio_transcription" in update.model_fields_set:
        t = update.input_audio_transcription
        values["transcription"] = (
            None
            if t is None
            else Transcription(model=t.model, language=t.language, prompt=t.prompt)
        )
    return SessionChange(config.model_copy(update=values), problems)


def _common(
    instructions: str | None,
    prompt: dict[str, Any] | None,
    values: dict[str, Any],
    problems: list[Problem],
    where: str,
) -> None:
    if instructions is not None:
        values["instructions"] = instructions
    if prompt is not None:
        problems.append(
            Problem(
                f"{where}.prompt",
                "stored prompts are not supported: send the instructions themselves",
            )
        )


def _tools(
    tools: list[dict[str, Any]] | None,
    tool_choice: str | dict[str, Any] | None,
    values: dict[str, Any],
    problems: list[Problem],
    where: str,
) -> None:
    """Function tools (the client runs them) and the tool choice; other kinds (MCP) are
    refused one by one, and the functions given apply."""
    if tools is not None:
        functions, problems_before = [], len(problems)
        for index, tool in enumerate(tools):
            parsed = parse_function_tool(tool, f"{where}.tools[{index}]", problems)
            if parsed is not None:
                functions.append(parsed)
        if len(problems) == problems_before:
            values["tools"] = tuple(functions)
    if tool_choice is not None:
        choice = parse_tool_choice(tool_choice, f"{where}.tool_choice", problems)
        if choice is not None:
            values["tool_choice"] = choice


def parse_function_tool(
    tool: dict[str, Any], where: str, problems: list[Problem]
) -> FunctionTool | None:
    if tool.get("type", "function") != "function":
        problems.append(Problem(f"{where}.type", f"'{str(tool.get('type'))[:40]}' tools are not "
                                "supported: parley offers the model function tools"))  # fmt: skip
        return None
    try:
        return FunctionTool.model_validate(tool)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field_name = ".".join(str(p) for p in error["loc"]) or "tool"
        problems.append(Problem(f"{where}.{field_name}", f"invalid function tool: {error['msg']}"))
        return None


def parse_tool_choice(
    choice: str | dict[str, Any], where: str, problems: list[Problem]
) -> str | None:
    """ "auto", "none", "required", or {"type": "function", "name": ...} -> the name."""
    if isinstance(choice, str):
        if choice in ("auto", "none", "required"):
            return choice
    elif choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return str(choice["name"])
    problems.append(Problem(where, "tool_choice must be 'auto', 'none', 'required' or "
                            "{'type': 'function', 'name': ...}"))  # fmt: skip
    return None


def _server_vad(
    td: GAServerVAD | BetaTurnDetection | None,
    defaults: ServerVAD,
    problems: list[Problem],
    where: str,
) -> ServerVAD | None:
    """A turn detection object replaces the old one: omitted fields take the defaults."""
    if td is None:
        return None
    if td.idle_timeout_ms is not None:
        problems.append(
            Problem(f"{where}.idle_timeout_ms", "idle_timeout_ms is not supported and was ignored")
        )
    return ServerVAD(
        threshold=defaults.threshold if td.threshold is None else td.threshold,
        prefix_padding_ms=(
            defaults.prefix_padding_ms if td.prefix_padding_ms is None else td.prefix_padding_ms
        ),
        silence_duration_ms=(
            defaults.silence_duration_ms
            if td.silence_duration_ms is None
            else td.silence_duration_ms
        ),
        create_response=True if td.create_response is None else td.create_response,
        interrupt_response=True if td.interrupt_response is None else td.interrupt_response,
    )


def _semantic(param: str) -> Problem:
    return Problem(
        param,
        "semantic_vad is not supported; turn detection was left as it "
        "was (use server_vad, which parley backs with its own turn-taking)",
    )
