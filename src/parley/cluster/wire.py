"""What crosses Redis: session events as JSON, commands to a member and their acks."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, is_dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from parley.events import SessionEvent

PREFIX = "parley:"
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def event_json(event: SessionEvent) -> dict[str, Any]:
    """`{"type": "agent_transcript", "response_id": ..., "text": ...}`: the event's fields
    under its class name in snake case."""
    fields = asdict(event) if is_dataclass(event) else {}
    return {"type": _CAMEL.sub("_", type(event).__name__).lower(), **fields}


def dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


Op = Literal["hangup", "say"]


class Command(BaseModel):
    op: Op
    session: str = Field(max_length=200)
    text: str = Field("", max_length=4000)
    reply: str = Field(max_length=200)  # the channel the ack goes to


class Ack(BaseModel):
    found: bool


def member_key(member: str) -> str:
    return f"{PREFIX}member:{member}"


def commands_channel(member: str) -> str:
    return f"{PREFIX}commands:{member}"


def events_channel(session_id: str) -> str:
    return f"{PREFIX}events:{session_id}"
