"""Turning a websocket away before it gets a session, as the browser and realtime routes do:
the origin check they share, and the refusal itself (an error event, then close 1008; a node
not ready or at capacity: close 1013, "try again later", with the code `busy` at capacity)."""

from __future__ import annotations

import logging
from typing import Protocol

from fastapi import WebSocket

from parley.logsafe import field
from parley.server.state import ServerBusyError, ServerNotReadyError, ServerState

Refusal = tuple[str, str]  # (code, message) for the client's error event


class Refusable(Protocol):
    """A transport that can tell its client why it gets no session, then close."""

    def refuse(self, code: str, message: str) -> None: ...
    async def aclose(self, code: int = 1000) -> None: ...


def origin_refusal(state: ServerState, websocket: WebSocket) -> Refusal | None:
    """Why a browser origin may not open a socket here, or None when it may."""
    origin = websocket.headers.get("origin")
    if state.origin_allowed(origin, websocket.headers.get("host")):
        return None
    return "origin_not_allowed", f"origin {str(origin)[:100]!r} is not in allowed_origins"


async def refuse(transport: Refusable, refusal: Refusal, log: logging.Logger, what: str) -> None:
    """Log the reason (never the token), send the error event and close with 1008."""
    log.warning("%s connection refused: %s", what, field("reason", refusal[1]))
    transport.refuse(*refusal)
    await transport.aclose(code=1008)


def unavailable_code(exc: ServerNotReadyError, not_ready: str) -> str:
    """The error code for a session the node cannot start now: `busy` at capacity (admission
    control), else the transport's own not-ready code. Either way the close is 1013."""
    return "busy" if isinstance(exc, ServerBusyError) else not_ready
