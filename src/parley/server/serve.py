"""`parley serve` under uvicorn: on shutdown the calls are hung up first, then the sockets.

uvicorn's own shutdown closes every websocket with 1012 before the app's lifespan shutdown
runs, so clients never heard why their session ended; and after a SIGTERM it re-raises the
signal once it is done, so the process died by it (exit status -15) however cleanly it had
shut down. `ParleyServer` stops accepting connections, hangs up every session (a page gets
`session_ended` "server shutting down" and a normal close, a Realtime client its last events,
a phone call the REST hangup), waits for them within the session close deadline, and only
then lets uvicorn close what is left. A shutdown asked for by SIGTERM or SIGINT exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI
from uvicorn.server import HANDLED_SIGNALS

from parley.server.state import ServerState

log = logging.getLogger("parley.server")


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


def serve(app: FastAPI, host: str, port: int) -> None:
    """Run the app until SIGTERM or SIGINT, with the options `parley serve` always used."""
    config = uvicorn.Config(app, host=host, port=port, log_config=None, ws_ping_interval=20)
    ParleyServer(config, app.state.parley).run()
