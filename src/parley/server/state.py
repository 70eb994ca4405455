"""What the server's routes share: settings, loaded providers, running sessions."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fastapi import Request, WebSocket

from parley.problems import ProblemCounter
from parley.providers.local.model_host.client import ModelHost
from parley.providers.local.model_host.remote import current_host
from parley.server.memory import HeapTrimmer
from parley.server.metrics import ServerMetrics
from parley.server.providers import ProviderLoader
from parley.server.sessions import SessionManager
from parley.session import Session, SessionConfig
from parley.session.port import Transport
from parley.settings import Settings


class ServerNotReadyError(RuntimeError):
    """Providers are still loading (or failed): no session can start yet."""


class SessionIdInUseError(RuntimeError):
    """A session with this id is already running (a replayed Twilio `start`, say)."""


@dataclass
class ServerState:
    settings: Settings
    loader: ProviderLoader
    sessions: SessionManager
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    problems: ProblemCounter = field(default_factory=ProblemCounter)  # bad requests, by kind
    # The embedded models' process, if any (the process-wide one; tests may pass their own).
    model_host: Callable[[], ModelHost | None] = current_host

    trimmer: HeapTrimmer = field(init=False)

    def __post_init__(self) -> None:
        self.metrics.watch_model_process(lambda: self.model_host())
        # Read through self.sessions each time: a benchmark may swap the manager.
        self.trimmer = HeapTrimmer(
            busy=lambda: len(self.sessions) > 0,
            ended=lambda: self.sessions.ended,
            interval=self.settings.memory_trim_interval_s,
        )
        self.metrics.watch_trimmer(self.trimmer)

    def new_session(
        self,
        transport: Transport,
        *,
        config: SessionConfig | None = None,
        session_id: str | None = None,
    ) -> Session:
        if not self.loader.ready:
            problem = "failed to load" if self.loader.failed else "still loading"
            raise ServerNotReadyError(f"providers {problem}; see /health")
        if session_id is not None and self.sessions.get(session_id) is not None:
            raise SessionIdInUseError(f"session {session_id} is already running")
        session = Session(
            transport, self.loader.providers, config or self.settings.session, session_id=session_id
        )
        session.observers.append(self.metrics.observe)
        self.metrics.sessions.labels(type(transport).__name__).inc()
        return session

    def token_matches(self, presented: str | None) -> bool:
        """Constant-time check of a client's access token; no token configured admits all."""
        expected = self.settings.access_token
        if expected is None:
            return True
        if presented is None:
            return False
        return hmac.compare_digest(presented.encode(), expected.get_secret_value().encode())

    def origin_allowed(self, origin: str | None, host: str | None) -> bool:
        """Browsers send Origin: allow the same origin and the configured ones. Clients that
        are not browsers send none and are judged by the token alone."""
        if origin is None:
            return True
        allowed = self.settings.allowed_origins
        if "*" in allowed or origin in allowed:
            return True
        return host is not None and urlsplit(origin).netloc == host


def server_state(connection: Request | WebSocket) -> ServerState:
    state: ServerState = connection.app.state.parley
    return state
