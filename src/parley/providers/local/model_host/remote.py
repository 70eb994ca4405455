"""A model loaded in the model process, as the providers use it: requests as async streams.

Also the server's one shared ModelHost: every embedded provider loads into it, so one child
process holds all the models of a server, whichever sessions use them.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
from collections.abc import AsyncGenerator

from parley.providers.base import ProviderError
from parley.providers.local.model_host.client import ModelHost
from parley.providers.local.model_host.wire import Header

MODEL_SOCKET = "PARLEY_MODEL_SOCKET"  # set by `parley serve --workers N` (model_host/broker.py)

_shared: ModelHost | None = None
_shared_lock = threading.Lock()


def shared_host() -> ModelHost:
    """The process's model host, made on first use (its child starts with the first model)."""
    global _shared
    with _shared_lock:
        if _shared is None:  # a worker of `parley serve --workers N` uses the node's one
            _shared = ModelHost(connect=os.environ.get(MODEL_SOCKET) or None)
            atexit.register(_shared.close)
        return _shared


def current_host() -> ModelHost | None:
    """The shared host if any embedded model was ever loaded (for /health and /metrics)."""
    return _shared


class RemoteModel:
    """One model in the child. `stream` is safe from any event loop or thread."""

    def __init__(self, host: ModelHost, engine: str, options: Header) -> None:
        self.host = host
        self.engine = engine
        self.id, self.info = host.load(engine, options)
        self._closed = False

    async def stream(
        self, request: Header, payload: bytes = b""
    ) -> AsyncGenerator[tuple[Header, bytes], None]:
        """The request's items as they are made. Closing the generator cancels the request
        in the child (skipped if still queued, stopped at its next item if running)."""
        host = self.host
        if not host.is_loaded(self.id):  # the child is restarting: wait for it, bounded
            await asyncio.to_thread(host.wait_loaded, self.id)
        loop = asyncio.get_running_loop()
        results: asyncio.Queue[tuple[str, Header, bytes]] = asyncio.Queue()

        def deliver(kind: str, header: Header, data: bytes) -> None:
            with contextlib.suppress(RuntimeError):  # the caller's loop closed: nobody waits
                loop.call_soon_threadsafe(results.put_nowait, (kind, header, data))

        job = host.submit(self.id, request, payload, deliver)
        try:
            while True:
                kind, header, data = await results.get()
                if kind == "item":
                    yield header, data
                elif kind == "done":
                    return
                else:
                    raise ProviderError(str(header.get("error")))
        finally:
            host.cancel(job)  # a no-op once it is done

    async def request(self, request: Header, payload: bytes = b"") -> list[tuple[Header, bytes]]:
        """All the items of a request (for one-shot requests such as a transcription)."""
        stream = self.stream(request, payload)
        try:
            return [item async for item in stream]
        finally:
            await stream.aclose()

    def close(self) -> None:
        """Unload the model from the child (the child stops when it holds none)."""
        if not self._closed:
            self._closed = True
            self.host.unload(self.id)
