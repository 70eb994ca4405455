"""`WS /v1/realtime`: where an OpenAI Realtime API client connects instead of OpenAI.

An application changes its base URL (`http://HOST:PORT/v1`) and nothing else. The
`OpenAI-Beta: realtime=v1` header (or the browser's `openai-beta.realtime-v1` subprotocol)
selects the beta dialect; without it the client speaks GA. The API key is read from
`Authorization: Bearer`, `api-key` or the browser's `openai-insecure-api-key.<key>`
subprotocol, and ignored unless `access_token` is set, in which case it must match. A refused
client gets an `error` event saying why, then a close (1008; 1013 while providers load, and
with the code `busy` when the node is at capacity).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, WebSocket

from parley.server.routes.refusal import Refusal, origin_refusal, refuse, unavailable_code
from parley.server.state import ServerNotReadyError, ServerState, server_state
from parley.transports.realtime.config import RealtimeConfig, server_vad_of
from parley.transports.realtime.server_events import Dialect, new_id
from parley.transports.realtime.transport import RealtimeTransport

log = logging.getLogger("parley.realtime")
router = APIRouter(tags=["realtime"])

SUBPROTOCOL = "realtime"
KEY_PREFIX = "openai-insecure-api-key."
BETA_SUBPROTOCOL = "openai-beta.realtime-v1"


@router.websocket("/v1/realtime")
async def realtime_socket(websocket: WebSocket) -> None:
    state = server_state(websocket)
    offered: list[str] = list(websocket.scope.get("subprotocols") or [])
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    beta = "realtime=v1" in websocket.headers.get("openai-beta", "") or (
        BETA_SUBPROTOCOL in offered
    )
    session_id = new_id("sess")
    base = state.settings.session
    config = RealtimeConfig(
        model=websocket.query_params.get("model") or "parley",
        instructions=base.instructions,
        turn_detection=server_vad_of(base.policy),
    )
    transport = RealtimeTransport(
        websocket,
        state.settings.realtime,
        dialect=Dialect(beta),
        config=config,
        base_policy=base.policy,
        session_id=session_id,
    )
    refusal = _refusal(state, websocket, offered)
    if refusal is not None:
        await refuse(transport, refusal, log, "realtime")
        return
    try:
        session = state.new_session(
            transport,
            config=base.model_copy(update={"policy": transport.policy()}),
            session_id=session_id,
        )
    except ServerNotReadyError as exc:
        transport.refuse(unavailable_code(exc, "server_not_ready"), str(exc), kind="server_error")
        await transport.aclose(code=1013)
        return
    transport.attach(session)
    log.info("%s: realtime client connected (%s)", session_id, "beta" if beta else "GA")
    await state.sessions.run(session)


def _refusal(state: ServerState, websocket: WebSocket, offered: list[str]) -> Refusal | None:
    refused = origin_refusal(state, websocket)
    if refused is not None:
        return refused
    if not state.token_matches(presented_key(websocket, offered)):
        return "invalid_api_key", "Incorrect API key provided: this server needs its access token."
    query = websocket.query_params
    if "call_id" in query:
        return "unsupported_value", "joining a SIP or WebRTC call (call_id) is not supported"
    if query.get("intent") == "transcription":
        return "unsupported_value", "transcription-only sessions are not supported"
    return None


def presented_key(websocket: WebSocket, offered: list[str]) -> str | None:
    """The API key the client sent, wherever its library puts it."""
    authorization = websocket.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    if "api-key" in websocket.headers:
        return websocket.headers["api-key"]
    for offer in offered:
        if offer.startswith(KEY_PREFIX):
            return offer[len(KEY_PREFIX) :]
    return None
