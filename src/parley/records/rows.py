"""What the observer hands the writer: plain values, built without touching the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class CallOpened:
    id: str
    transport: str
    started_at: datetime
    providers: dict[str, Any]
    policy: dict[str, Any]
    recording: bool
    twilio_call_sid: str | None = None
    twilio_from: str | None = None
    twilio_to: str | None = None
    node: str | None = None  # the node holding the call (cluster.node_id or host name)


@dataclass(frozen=True, slots=True)
class TurnEnded:
    call_id: str
    at: datetime  # wall clock of the turn's end: the call's last activity
    index: int
    response_id: str
    status: str
    user_text: str
    agent_text: str
    heard_text: str
    pauses: int
    resumes: int
    stages: dict[str, float | None]  # every stage of parley.timing.STAGES, s from call start


@dataclass(frozen=True, slots=True)
class ErrorMet:
    call_id: str
    at: datetime
    at_s: float
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class CallClosed:
    call_id: str
    ended_at: datetime
    end_reason: str


Write = CallOpened | TurnEnded | ErrorMet | CallClosed
