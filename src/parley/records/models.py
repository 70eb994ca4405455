"""The tables: calls, their turns and their errors (SQLAlchemy 2 declarative).

Turn stage times are seconds from the call's start (the moment its session started), so a
turn reads on the same timeline as the call's recording. The migrations in `migrations/`
create exactly these tables; `tests/records/test_store.py` checks that they agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on every database (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    transport: Mapped[str] = mapped_column(String(16))
    twilio_call_sid: Mapped[str | None] = mapped_column(String(34))
    twilio_from: Mapped[str | None] = mapped_column(String(64))
    twilio_to: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    last_activity_at: Mapped[datetime]  # the end of a call the server never closed
    end_reason: Mapped[str | None] = mapped_column(String(200))
    providers: Mapped[dict[str, Any]]
    policy: Mapped[dict[str, Any]]
    recording: Mapped[bool] = mapped_column(Boolean)
    # The node that held the call (cluster.node_id or the host name): a node that starts
    # closes only its own calls left open, never another live node's (migration 0002).
    node: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_calls_started", "started_at", "id"),  # newest first, cursor pages
        Index("ix_calls_transport_started", "transport", "started_at", "id"),
        Index("ix_calls_open", "ended_at"),  # calls left open, at start
    )


class Turn(Base):
    __tablename__ = "turns"

    call_id: Mapped[str] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    response_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    user_text: Mapped[str] = mapped_column(Text)
    agent_text: Mapped[str] = mapped_column(Text)
    heard_text: Mapped[str] = mapped_column(Text)
    pauses: Mapped[int] = mapped_column(Integer)
    resumes: Mapped[int] = mapped_column(Integer)
    # Every stage of parley.timing.STAGES, seconds from the call's start (a new stage needs
    # a column and a migration: tests/records/test_store.py checks they match).
    speech_started: Mapped[float | None] = mapped_column(Float)
    speech_start_decided: Mapped[float | None] = mapped_column(Float)
    speech_ended: Mapped[float | None] = mapped_column(Float)
    endpoint_decided: Mapped[float | None] = mapped_column(Float)
    stt_final: Mapped[float | None] = mapped_column(Float)
    committed: Mapped[float | None] = mapped_column(Float)
    llm_first_token: Mapped[float | None] = mapped_column(Float)
    tts_first_audio: Mapped[float | None] = mapped_column(Float)
    first_audio_out: Mapped[float | None] = mapped_column(Float)
    interruption_decided: Mapped[float | None] = mapped_column(Float)
    output_stopped: Mapped[float | None] = mapped_column(Float)
    ended: Mapped[float | None] = mapped_column(Float)


class CallError(Base):
    __tablename__ = "call_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    at_s: Mapped[float] = mapped_column(Float)
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
