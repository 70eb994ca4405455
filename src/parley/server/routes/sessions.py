"""The live calls API (docs/deploy.md, "Many nodes"): list the calls in progress on every
node, hang one up, make its agent say something, watch its events. Any node answers for any
call: commands reach the node holding it through Redis ([cluster]); without Redis, this
node's calls. Guarded by the access token like /v1/calls."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from parley.cluster import ClusterNode, ClusterUnavailableError
from parley.cluster.wire import Op, dumps
from parley.server.state import server_state

KEEPALIVE_S = 15.0  # an SSE comment this often, so proxies keep an idle stream open


def cluster(request: Request) -> ClusterNode:
    """The guard: the access token when one is set (`Authorization: Bearer` or `?token=`)."""
    state = server_state(request)
    if state.settings.access_token is not None:
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        presented = bearer.strip() if scheme.lower() == "bearer" else None
        if not state.token_matches(presented or request.query_params.get("token")):
            raise HTTPException(401, "a valid access token is needed",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    return state.cluster


Cluster = Annotated[ClusterNode, Depends(cluster)]
router = APIRouter(prefix="/v1/sessions", tags=["sessions"])


class LiveSession(BaseModel):
    id: str
    node: str
    transport: str
    started_at: str
    phase: str
    twilio_call_sid: str | None


class LiveSessions(BaseModel):
    sessions: list[LiveSession]


class SayRequest(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class Accepted(BaseModel):
    status: Literal["delivered"] = "delivered"


@router.get("", response_model=LiveSessions)
async def list_sessions(cluster: Cluster) -> LiveSessions:
    try:
        found = await cluster.sessions()
    except ClusterUnavailableError as exc:
        raise HTTPException(503, str(exc)) from exc
    return LiveSessions(sessions=[LiveSession(**asdict(info)) for info in found])


async def _command(cluster: ClusterNode, session_id: str, op: Op, text: str = "") -> JSONResponse:
    try:
        found = await cluster.command(session_id, op, text)
    except ClusterUnavailableError as exc:
        raise HTTPException(503, str(exc)) from exc
    if not found:
        raise HTTPException(404, "no such live session")
    return JSONResponse(Accepted().model_dump(), status_code=202)


@router.post("/{session_id}/hangup", status_code=202, response_model=Accepted)
async def hangup(session_id: str, cluster: Cluster) -> JSONResponse:
    return await _command(cluster, session_id, "hangup")


@router.post("/{session_id}/say", status_code=202, response_model=Accepted)
async def say(session_id: str, body: SayRequest, cluster: Cluster) -> JSONResponse:
    """The agent says `text` as it is, now (a response in flight is cancelled first)."""
    return await _command(cluster, session_id, "say", body.text)


@router.get("/{session_id}/events")
async def events(session_id: str, cluster: Cluster) -> StreamingResponse:
    """Server-sent events: each session event as `event: <type>` with its JSON, from now to
    `session_ended`."""
    try:
        stream = await cluster.events(session_id)
    except ClusterUnavailableError as exc:
        raise HTTPException(503, str(exc)) from exc
    if stream is None:
        raise HTTPException(404, "no such live session")
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # nginx: no buffering
    return StreamingResponse(_sse(stream), media_type="text/event-stream", headers=headers)


async def _sse(stream: AsyncGenerator[dict[str, Any]]) -> AsyncIterator[str]:
    yield ": connected\n\n"  # headers and a first byte out now: the watcher knows it is on
    pending = asyncio.ensure_future(anext(stream))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_S)
            if not done:
                yield ": keepalive\n\n"
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                return
            yield f"event: {event.get('type', 'message')}\ndata: {dumps(event)}\n\n"
            pending = asyncio.ensure_future(anext(stream))
    finally:
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
            await pending
        await stream.aclose()
