"""Running fake websocket servers on this machine (ASGI fakes run under tests.serving).

They listen on 127.0.0.1 at a free port, in the test's own event loop, and stop when the
`async with` ends (closing any connection still open).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

Handler = Callable[[ServerConnection], Awaitable[None]]
ProcessRequest = Callable[[ServerConnection, Request], Awaitable[Response | None] | Response | None]


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
