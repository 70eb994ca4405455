"""The browser's doors into the server: the page at `/`, the call records page at `/calls`,
their files, and `WS /ws`.

Everything the page runs is served from here: its own HTML, CSS and JavaScript, and the npm
packages the setup installed next to it (Silero VAD for the page, onnxruntime-web and its
wasm). Nothing comes from a CDN, so the page works offline. Only files that exist in those
folders, with a known type, are served; names cannot climb out of them.

The websocket checks the page's Origin (the `allowed_origins` setting; same-origin always
passes) and, when `access_token` is set, the token. A browser cannot set headers on a
websocket, so the page offers it as a subprotocol, `token.<base64url of the token>`, next to
`parley`; other clients may send `Authorization: Bearer <token>`. A token in the URL would
end up in access logs, so there is none. A refused client gets an `error` event saying why,
then a close with code 1008.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import uuid
from pathlib import Path

from fastapi import APIRouter, HTTPException, WebSocket
from fastapi.responses import FileResponse

from parley.server.routes.refusal import Refusal, origin_refusal, refuse, unavailable_code
from parley.server.state import ServerNotReadyError, ServerState, server_state
from parley.transports.browser.transport import BrowserTransport

log = logging.getLogger("parley.browser")
router = APIRouter(tags=["browser"])

SUBPROTOCOL = "parley"
TOKEN_PREFIX = "token."
WEB_DIR = Path(__file__).resolve().parents[2] / "web"
VENDOR_DIRS = {
    "vad": WEB_DIR / "node_modules" / "@ricky0123" / "vad-web" / "dist",
    "ort": WEB_DIR / "node_modules" / "onnxruntime-web" / "dist",
}
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
    ".onnx": "application/octet-stream",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_NO_CACHE = {"Cache-Control": "no-cache"}
_CACHE_A_DAY = {"Cache-Control": "public, max-age=86400"}


# --- the page and its files ----------------------------------------------------------------


@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return _file(WEB_DIR, "index.html", _NO_CACHE)


@router.get("/calls", include_in_schema=False)
async def calls_page() -> FileResponse:
    """Past calls, from the records API (`/calls#<id>` or `?id=<id>` shows one)."""
    return _file(WEB_DIR, "calls.html", _NO_CACHE)


@router.get("/static/{name}", include_in_schema=False)
async def static_file(name: str) -> FileResponse:
    return _file(WEB_DIR, name, _NO_CACHE)


@router.get("/vendor/{package}/{name}", include_in_schema=False)
async def vendor_file(package: str, name: str) -> FileResponse:
    folder = VENDOR_DIRS.get(package)
    if folder is None:
        raise HTTPException(404, f"no vendored package {package!r}")
    if not folder.is_dir():
        raise HTTPException(404, "the web client's npm packages are not installed: run "
                            "`make setup` (or `npm ci --prefix src/parley/web`)")  # fmt: skip
    return _file(folder, name, _CACHE_A_DAY)


def _file(folder: Path, name: str, headers: dict[str, str]) -> FileResponse:
    suffix = Path(name).suffix
    path = folder / name
    if not _SAFE_NAME.match(name) or suffix not in MEDIA_TYPES or not path.is_file():
        raise HTTPException(404, f"no such file: {name[:80]}")
    return FileResponse(path, media_type=MEDIA_TYPES[suffix], headers=headers)


# --- the websocket ---------------------------------------------------------------------------


@router.websocket("/ws")
async def browser_socket(websocket: WebSocket) -> None:
    state = server_state(websocket)
    offered: list[str] = list(websocket.scope.get("subprotocols") or [])
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    transport = BrowserTransport(websocket, state.settings.browser)
    refusal = _refusal(state, websocket, offered)
    if refusal is not None:
        await refuse(transport, refusal, log, "browser")
        return
    session_id = f"browser-{uuid.uuid4().hex[:12]}"
    try:
        session = state.new_session(transport, session_id=session_id)
    except ServerNotReadyError as exc:
        transport.refuse(unavailable_code(exc, "not_ready"), str(exc))
        await transport.aclose(code=1013)
        return
    records = state.settings.records
    transport.greet(
        session.id, session.config.policy, recording=records.enabled and records.recordings
    )
    await state.sessions.run(session)


def _refusal(state: ServerState, websocket: WebSocket, offered: list[str]) -> Refusal | None:
    refused = origin_refusal(state, websocket)
    if refused is not None:
        return refused
    if state.settings.access_token is not None and not state.token_matches(
        presented_token(websocket.headers.get("authorization"), offered)
    ):
        return "unauthorized", "a valid access token is needed to open a session"
    return None


def presented_token(authorization: str | None, subprotocols: list[str]) -> str | None:
    """The token from `Authorization: Bearer ...` or a `token.<base64url>` subprotocol."""
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    for offer in subprotocols:
        if offer.startswith(TOKEN_PREFIX):
            encoded = offer[len(TOKEN_PREFIX) :]
            try:
                return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            except (binascii.Error, ValueError):
                return None
    return None
