"""The call records API (docs/records.md): list, one call with its turns, its recording,
delete. Guarded by the server's access token when one is set (`Authorization: Bearer` or
`?token=`), like the websockets."""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from parley.records.models import Call, CallError, Turn
from parley.records.recording import RECORDING_MEDIA_TYPE, recording_finished
from parley.records.service import CALL_ID, CallRecords
from parley.records.store import CallListing
from parley.server.state import server_state
from parley.timing import STAGES

Transport = Literal["twilio", "browser", "realtime", "memory"]


class TwilioFacts(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    call_sid: str | None
    from_: str | None = Field(serialization_alias="from")
    to: str | None


class CallSummary(BaseModel):
    id: str
    transport: str
    started_at: str
    ended_at: str | None
    end_reason: str | None
    duration_s: float | None
    twilio: TwilioFacts | None
    providers: dict[str, Any]
    recording: bool
    turn_count: int
    error_count: int


class CallPage(BaseModel):
    calls: list[CallSummary]
    next_cursor: str | None


class TurnRecord(BaseModel):
    index: int
    response_id: str
    status: str
    user_text: str
    agent_text: str
    heard_text: str
    start_s: float | None
    end_s: float | None
    timings: dict[str, float | None]
    pauses: int
    resumes: int
    interrupted: bool


class ErrorRecord(BaseModel):
    at_s: float
    code: str
    message: str


class CallDetail(CallSummary):
    policy: dict[str, Any]
    turns: list[TurnRecord]
    errors: list[ErrorRecord]


def records(request: Request) -> CallRecords:
    """The guard: the access token when one is set, then the records (404 when off)."""
    state = server_state(request)
    if state.settings.access_token is not None:
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        presented = bearer.strip() if scheme.lower() == "bearer" else None
        if not state.token_matches(presented or request.query_params.get("token")):
            raise HTTPException(401, "a valid access token is needed",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    if state.records is None:
        raise HTTPException(404, "call records are off (records.enabled)")
    return state.records


Records = Annotated[CallRecords, Depends(records)]
router = APIRouter(prefix="/v1/calls", tags=["calls"])


@router.get("", response_model=CallPage, response_model_by_alias=True)
async def list_calls(
    records: Records,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    transport: Transport | None = None,
) -> CallPage:
    after = _decode_cursor(cursor) if cursor else None
    found = await records.store.list_calls(
        limit=limit + 1, after=after, since=_utc(since), until=_utc(until), transport=transport
    )
    page = found[:limit]
    next_cursor = _encode_cursor(page[-1].call) if len(found) > limit else None
    return CallPage(calls=[_summary(listing) for listing in page], next_cursor=next_cursor)


@router.get("/{call_id}", response_model=CallDetail, response_model_by_alias=True)
async def get_call(call_id: str, records: Records) -> CallDetail:
    detail = await records.store.get_call(call_id) if CALL_ID.fullmatch(call_id) else None
    if detail is None:
        raise HTTPException(404, "no such call")
    return CallDetail(
        **_summary(detail.listing).model_dump(),
        policy=detail.listing.call.policy,
        turns=[_turn(turn) for turn in detail.turns],
        errors=[_error(error) for error in detail.errors],
    )


@router.get("/{call_id}/recording")
async def get_recording(call_id: str, records: Records) -> Response:
    path = records.recording_file(call_id)
    if path is None:
        raise HTTPException(404, "no recording of this call")
    if not await asyncio.to_thread(recording_finished, path):
        # Still being written (the call is live, or its writer is finishing): what is there
        # now, read at once, since a file served by its size at the start would grow under it.
        content = await asyncio.to_thread(path.read_bytes)
        return Response(content, media_type=RECORDING_MEDIA_TYPE)
    return FileResponse(path, media_type=RECORDING_MEDIA_TYPE, filename=path.name)


@router.delete("/{call_id}", status_code=204)
async def delete_call(call_id: str, records: Records) -> Response:
    if not CALL_ID.fullmatch(call_id) or not await records.delete(call_id):
        raise HTTPException(404, "no such call")
    return Response(status_code=204)


def _summary(listing: CallListing) -> CallSummary:
    call = listing.call
    twilio = None
    if call.twilio_call_sid is not None:
        twilio = TwilioFacts(call_sid=call.twilio_call_sid, from_=call.twilio_from,
                             to=call.twilio_to)  # fmt: skip
    duration = None
    if call.ended_at is not None:
        duration = round((call.ended_at - call.started_at).total_seconds(), 3)
    return CallSummary(
        id=call.id,
        transport=call.transport,
        started_at=_iso(call.started_at),
        ended_at=_iso(call.ended_at) if call.ended_at is not None else None,
        end_reason=call.end_reason,
        duration_s=duration,
        twilio=twilio,
        providers=call.providers,
        recording=call.recording,
        turn_count=listing.turn_count,
        error_count=listing.error_count,
    )


def _turn(turn: Turn) -> TurnRecord:
    timings: dict[str, float | None] = {stage: getattr(turn, stage) for stage in STAGES}
    start = turn.speech_started if turn.speech_started is not None else turn.committed
    return TurnRecord(
        index=turn.index,
        response_id=turn.response_id,
        status=turn.status,
        user_text=turn.user_text,
        agent_text=turn.agent_text,
        heard_text=turn.heard_text,
        start_s=start,
        end_s=turn.ended,
        timings=timings,
        pauses=turn.pauses,
        resumes=turn.resumes,
        interrupted=turn.status == "interrupted",
    )


def _error(error: CallError) -> ErrorRecord:
    return ErrorRecord(at_s=error.at_s, code=error.code, message=error.message)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _encode_cursor(call: Call) -> str:
    raw = f"{call.started_at.astimezone(UTC).isoformat()}|{call.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, call_id = raw.partition("|")
        started = datetime.fromisoformat(at)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise HTTPException(400, "bad cursor") from None
    if CALL_ID.fullmatch(call_id) is None or started.tzinfo is None:
        raise HTTPException(400, "bad cursor")
    return started, call_id
