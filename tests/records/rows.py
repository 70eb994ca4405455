"""Rows for the records tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from parley.records.rows import CallOpened, ErrorMet, TurnEnded
from parley.timing import STAGES

T0 = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def opened(
    at: datetime = T0,
    transport: str = "twilio",
    call_id: str | None = None,
    node: str | None = None,
) -> CallOpened:
    twilio = transport == "twilio"
    return CallOpened(
        id=call_id or uuid.uuid4().hex,
        transport=transport,
        started_at=at,
        providers={"vad": "energy", "stt": "fake", "llm": "fake", "tts": "fake"},
        policy={"min_silence_ms": 500},
        recording=False,
        twilio_call_sid="CA" + "0" * 32 if twilio else None,
        twilio_from="+15550001111" if twilio else None,
        twilio_to="+15550002222" if twilio else None,
        node=node,
    )


def turn(call: CallOpened, index: int, ended_s: float, status: str = "completed") -> TurnEnded:
    stages: dict[str, float | None] = dict.fromkeys(STAGES)
    stages.update(speech_started=ended_s - 3.0, committed=ended_s - 2.0, ended=ended_s)
    return TurnEnded(
        call_id=call.id,
        at=call.started_at + timedelta(seconds=ended_s),
        index=index,
        response_id=f"resp_{index}",
        status=status,
        user_text=f"question {index} ünïcode",
        agent_text=f"the whole answer {index}",
        heard_text=f"the whole {index}",
        pauses=1,
        resumes=1,
        stages=stages,
    )


def error(call: CallOpened, at_s: float) -> ErrorMet:
    return ErrorMet(call.id, call.started_at + timedelta(seconds=at_s), at_s, "stt_failed", "oops")
