"""Running fake servers on this machine: an ASGI app under uvicorn, or a websocket handler.

Both listen on 127.0.0.1 at a free port, in the test's own event loop, and stop when the
`async with` ends (closing any connection still open).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
Handler = Callable[[ServerConnection], Awaitable[None]]
ProcessRequest = Callable[[ServerConnection, Request], Awaitable[Response | None] | Response | None]


@asynccontextmanager
async def asgi_server(app: ASGIApp) -> AsyncIterator[str]:
    """Serve `app` over HTTP; yields the base URL (http://127.0.0.1:PORT)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="off", log_level="critical", timeout_graceful_shutdown=1, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.005)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        try:
            await asyncio.wait_for(task, 3)
        finally:
            sock.close()


@asynccontextmanager
async def ws_server(
    handler: Handler, process_request: ProcessRequest | None = None
) -> AsyncIterator[str]:
    """Serve websockets with `handler`; yields the base URL (ws://127.0.0.1:PORT)."""
    async with serve(
        handler, "127.0.0.1", 0, process_request=process_request, compression=None
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"
        server.close(close_connections=True)


def closed_port() -> str:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"
