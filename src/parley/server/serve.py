"""The app under uvicorn, with the limits a server facing the internet needs (docs/deploy.md).

uvicorn closes idle keep-alive connections but gives a request's headers all the time in the
world: 300 clients sending a header byte now and then held 300 connections (and file
descriptors) open for as long as they liked. Here every request's headers must arrive within
`http.header_timeout_s`, counted from the connection or the previous response; then the
client gets 408 and the connection is closed. Bodies are bounded where they are read
(`limits.py`), connections by `http.max_connections`.

Three of uvicorn's own log records are made quiet, since any client can cause them at will:
a text frame that is not UTF-8 (the close with 1007 is right, but uvicorn logged a traceback
each time), a request that is not HTTP, and one past the connection limit. Each is one short
line, on its 1st, 2nd, 4th... occurrence.

On shutdown the calls are hung up first, then the sockets. uvicorn's own shutdown closes every
websocket with 1012 before the app's lifespan shutdown runs, so clients never heard why their
session ended; and after a SIGTERM it re-raises the signal once it is done, so the process died
by it (exit status -15) however cleanly it had shut down. `ParleyServer` stops accepting
connections, hangs up every session (a page gets `session_ended` "server shutting down" and a
normal close, a Realtime client its last events, a phone call the REST hangup), waits for them
within the session close deadline, and only then lets uvicorn close what is left. A shutdown
asked for by SIGTERM or SIGINT exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import HANDLED_SIGNALS

from parley.problems import ProblemCounter
from parley.server.state import ServerState
from parley.settings import Settings

log = logging.getLogger("parley.server")

_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 29\r\nconnection: close\r\n\r\nrequest headers took too long"
)


def header_deadline_protocol(timeout: float, problems: ProblemCounter) -> type[HttpToolsProtocol]:
    """uvicorn's HTTP protocol, with a deadline for each request's headers."""

    class HeaderDeadlineProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None
        _waiting_since: object = None  # the request cycle current when the deadline was set

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            if not self.transport.is_closing():
                self._waiting_since = self.cycle
                self._deadline = self.loop.call_later(timeout, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            transport = self.transport
            if transport.is_closing() or transport.get_protocol() is not self:
                return  # closed, or upgraded to a websocket: not ours any more
            cycle = self.cycle
            serving = cycle is not None and not cycle.response_complete
            if cycle is not self._waiting_since or serving:
                return  # headers came in time: a request is being served (it re-arms after)
            count = problems.due("header timeout")
            if count is not None:
                log.warning("http: closed a connection whose request headers did not arrive "
                            "within %g s (%d so far)", timeout, count)  # fmt: skip
            transport.write(_REQUEST_TIMEOUT)
            transport.close()

    return HeaderDeadlineProtocol


class _QuietClientErrors(logging.Filter):
    """uvicorn's records that any client can cause: one line, no traceback, rate-limited."""

    MESSAGES: ClassVar[dict[str, str]] = {
        "Invalid UTF-8 sequence received from client.": "websocket: a text frame that is not "
        "UTF-8 (closed with 1007)",
        "Invalid HTTP request received.": "http: a request that is not HTTP (400)",
        "Exceeded concurrency limit.": "http: over http.max_connections (503)",
    }

    def __init__(self) -> None:
        super().__init__()
        self.problems = ProblemCounter()

    def filter(self, record: logging.LogRecord) -> bool:
        quiet = self.MESSAGES.get(str(record.msg))
        if quiet is None:
            return True
        count = self.problems.due(quiet)
        if count is None:
            return False
        record.msg, record.args = "%s (%d so far)", (quiet, count)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        return True


_QUIET = _QuietClientErrors()


def quiet_uvicorn_errors() -> None:
    """Install the filter on uvicorn's error logger (once)."""
    logger = logging.getLogger("uvicorn.error")
    if _QUIET not in logger.filters:
        logger.addFilter(_QUIET)


def uvicorn_config(app: Any, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """How `parley serve` runs `app`: the limits of `settings.http`, logging left to ours."""
    quiet_uvicorn_errors()
    http = settings.http
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,  # records go to the handler parley.logsafe installed
        "ws_ping_interval": 20,
        "ws_per_message_deflate": http.websocket_compression,
        "http": header_deadline_protocol(http.header_timeout_s, ProblemCounter()),
        "timeout_keep_alive": http.keep_alive_s,
        "limit_concurrency": http.max_connections,
        **overrides,
    }
    return uvicorn.Config(app, **options)


class ParleyServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, state: ServerState) -> None:
        super().__init__(config)
        self._state = state

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections while the calls end (uvicorn closes again)
        sessions = self._state.sessions  # read now: the benchmark server replaces it
        if len(sessions):
            log.info("shutting down: hanging up %d sessions", len(sessions))
            await sessions.close_all(self._state.settings.session.close_deadline_s + 1.0)
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's, except that the signal is not raised again after a clean shutdown."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def run(app: Any, settings: Settings) -> None:
    """Run the app until SIGTERM or SIGINT; the sessions are hung up before the sockets close."""
    ParleyServer(uvicorn_config(app, settings), app.state.parley).run()
