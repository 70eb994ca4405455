"""A real uvicorn server in the test's own event loop, on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

import uvicorn

from parley.server.serve import uvicorn_config
from parley.settings import Settings

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(
    app: ASGIApp, *, lifespan: Literal["on", "off"] = "on", settings: Settings | None = None
) -> AsyncIterator[str]:
    """Run `app` on a free loopback port in this loop; yields "127.0.0.1:PORT".

    `lifespan="off"` is for bare ASGI apps (the cloud fakes) that handle only HTTP. With
    `settings`, uvicorn runs as `parley serve` runs it (parley.server.serve: its limits).
    """
    if settings is None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan=lifespan)
    else:
        config = uvicorn_config(app, settings, host="127.0.0.1", port=0, lifespan=lifespan)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(1000):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if not server.started:
            raise RuntimeError("uvicorn did not start")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
