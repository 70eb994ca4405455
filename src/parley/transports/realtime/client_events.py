"""What a Realtime client sends: pydantic models, and the errors bad messages earn.

`parse` turns one text message into a validated event or a `Rejection` naming the problem
the way the API does: `invalid_json`, `invalid_value` (param `type` for an unknown event),
`missing_required_parameter`, `unknown_parameter`, `invalid_type`, and `unsupported_event`
for events of the API that parley does not implement. Nothing is dropped silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from parley.transports import wire_json
from parley.transports.realtime.session_update import (
    MAX_AUDIO_MS,
    BetaSessionUpdate,
    GASessionUpdate,
)

log = logging.getLogger("parley.realtime")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class _ClientEvent(_Strict):
    event_id: str | None = None


class SessionUpdateGA(_ClientEvent):
    type: Literal["session.update"]
    session: GASessionUpdate


class SessionUpdateBeta(_ClientEvent):
    type: Literal["session.update"]
    session: BetaSessionUpdate


class AppendAudio(_ClientEvent):
    type: Literal["input_audio_buffer.append"]
    audio: str


class CommitAudio(_ClientEvent):
    type: Literal["input_audio_buffer.commit"]


class ClearAudio(_ClientEvent):
    type: Literal["input_audio_buffer.clear"]


class ContentIn(_Strict):
    type: Literal[
        "input_text",
        "input_audio",
        "input_image",
        "item_reference",
        "text",
        "audio",
        "output_text",
        "output_audio",
    ]
    text: str | None = None
    audio: str | None = None
    transcript: str | None = None
    id: str | None = None
    image_url: str | None = None
    detail: str | None = None


class ItemIn(_Strict):
    id: str | None = None
    type: Literal[
        "message",
        "function_call",
        "function_call_output",
        "mcp_approval_response",
        "mcp_list_tools",
        "mcp_call",
        "mcp_approval_request",
    ] = "message"
    object: Literal["realtime.item"] | None = None
    role: Literal["user", "assistant", "system"] | None = None
    status: Literal["completed", "incomplete", "in_progress"] | None = None
    content: list[ContentIn] | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | None = None


class CreateItem(_ClientEvent):
    type: Literal["conversation.item.create"]
    previous_item_id: str | None = None
    item: ItemIn


class TruncateItem(_ClientEvent):
    type: Literal["conversation.item.truncate"]
    item_id: str
    content_index: int = Field(ge=0, le=1000)
    audio_end_ms: int = Field(ge=0, le=MAX_AUDIO_MS)


class ResponseParams(_Strict):
    """response.create's `response`: the fields of both dialects."""

    instructions: str | None = None
    metadata: dict[str, str] | None = None
    conversation: str | None = None
    input: list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    output_modalities: list[Literal["text", "audio"]] | None = None
    modalities: list[Literal["text", "audio"]] | None = None
    audio: dict[str, Any] | None = None
    voice: str | None = None
    output_audio_format: str | None = None
    temperature: float | None = None
    max_output_tokens: int | Literal["inf"] | None = None
    max_response_output_tokens: int | Literal["inf"] | None = None
    prompt: dict[str, Any] | None = None


class CreateResponse(_ClientEvent):
    type: Literal["response.create"]
    response: ResponseParams | None = None


class RetrieveItem(_ClientEvent):
    type: Literal["conversation.item.retrieve"]
    item_id: str


class DeleteItem(_ClientEvent):
    type: Literal["conversation.item.delete"]
    item_id: str


class CancelResponse(_ClientEvent):
    type: Literal["response.cancel"]
    response_id: str | None = None


ClientEvent = (
    SessionUpdateGA
    | SessionUpdateBeta
    | AppendAudio
    | CommitAudio
    | ClearAudio
    | CreateItem
    | TruncateItem
    | CreateResponse
    | CancelResponse
    | RetrieveItem
    | DeleteItem
)

_MODELS: dict[str, type[BaseModel]] = {
    "input_audio_buffer.append": AppendAudio,
    "input_audio_buffer.commit": CommitAudio,
    "input_audio_buffer.clear": ClearAudio,
    "conversation.item.create": CreateItem,
    "conversation.item.truncate": TruncateItem,
    "response.create": CreateResponse,
    "response.cancel": CancelResponse,
    "conversation.item.retrieve": RetrieveItem,
    "conversation.item.delete": DeleteItem,
}
UNSUPPORTED_EVENTS: dict[str, str] = {
    "output_audio_buffer.clear": "output_audio_buffer.clear is for WebRTC and SIP; over a "
    "websocket, send response.cancel and conversation.item.truncate",
    "transcription_session.update": "transcription-only sessions are not supported",
    "session.close": "close the websocket to end the session",
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message that could not be used, and why (becomes an `error` event)."""

    code: str
    message: str
    param: str | None = None
    event_id: str | None = None


def parse(text: str, *, beta: bool) -> ClientEvent | Rejection:
    try:
        data = wire_json.parse(text)
    except wire_json.WireJSONError as exc:
        return not_json(exc)
    return decode(data, beta=beta)


def not_json(exc: wire_json.WireJSONError) -> Rejection:
    return Rejection("invalid_json", f"The message is not valid JSON ({exc}).")


def decode(data: Any, *, beta: bool) -> ClientEvent | Rejection:
    """A parsed JSON value as a client event, or the API's error for it."""
    if not isinstance(data, dict):
        return Rejection("invalid_json", "A client event must be a JSON object.")
    raw_id = data.get("event_id")
    event_id = raw_id if isinstance(raw_id, str) else None
    kind = data.get("type")
    if not isinstance(kind, str):
        what = (
            "Missing required parameter: 'type'."
            if kind is None
            else ("Invalid type for 'type': expected a string.")
        )
        code = "missing_required_parameter" if kind is None else "invalid_type"
        return Rejection(code, what, "type", event_id)
    if kind in UNSUPPORTED_EVENTS:
        return Rejection(
            "unsupported_event",
            f"parley does not support '{kind[:60]}': {UNSUPPORTED_EVENTS[kind]}.",
            "type",
            event_id,
        )
    if kind == "session.update":
        model: type[BaseModel] = SessionUpdateBeta if beta else SessionUpdateGA
    elif kind in _MODELS:
        model = _MODELS[kind]
    else:
        supported = ", ".join(f"'{name}'" for name in ["session.update", *_MODELS])
        return Rejection(
            "invalid_value",
            f"Invalid value: '{kind[:60]}'. Supported values are: {supported}.",
            "type",
            event_id,
        )
    try:
        try:
            event: ClientEvent = model.model_validate(data)  # type: ignore[assignment]
        except ValidationError as exc:
            return describe_invalid(exc, data, event_id)
    except Exception as exc:  # a bug must cost this event, not the session: report it
        log.exception("could not validate a %s event", kind[:60])
        return Rejection("invalid_value", f"The event could not be read ({type(exc).__name__}).",
                         None, event_id)  # fmt: skip
    return event


def describe_invalid(exc: ValidationError, data: Any, event_id: str | None) -> Rejection:
    """The first problem pydantic found, in the API's words, with the field's dotted path."""
    error = exc.errors(include_url=False)[0]
    kind = error["type"]
    param = _param(error["loc"], data, missing=kind == "missing")
    detail = str(error["msg"])[:160]
    if kind == "missing":
        return Rejection(
            "missing_required_parameter", f"Missing required parameter: '{param}'.", param, event_id
        )
    if kind == "extra_forbidden":
        return Rejection("unknown_parameter", f"Unknown parameter: '{param}'.", param, event_id)
    if kind.endswith("_type") or kind in ("model_attributes_type", "is_instance_of"):
        return Rejection("invalid_type", f"Invalid type for '{param}': {detail}.", param, event_id)
    return Rejection("invalid_value", f"Invalid value for '{param}': {detail}.", param, event_id)


def _param(loc: tuple[int | str, ...], data: Any, *, missing: bool) -> str:
    """The path of the offending field as the client wrote it: pydantic adds the names of
    union members to locations, which are not the client's keys, so walk the data."""
    parts: list[str] = []
    current = data
    for index, part in enumerate(loc):
        if _has(current, part):
            current = current[part]
        elif not (missing and index == len(loc) - 1):
            continue  # a union member's name, not a key of the client's
        parts.append(f"[{part}]" if isinstance(part, int) else part)
    return ".".join(parts).replace(".[", "[")


def _has(container: Any, key: int | str) -> bool:
    if isinstance(container, dict):
        return isinstance(key, str) and key in container
    if isinstance(container, list):
        return isinstance(key, int) and 0 <= key < len(container)
    return False
