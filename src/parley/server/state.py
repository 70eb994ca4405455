"""What the server's routes share: settings, loaded providers, running sessions."""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fastapi import Request, WebSocket

from parley.cluster import ClusterNode, LiveSessions
from parley.problems import ProblemCounter
from parley.providers.local.model_host.client import ModelHost
from parley.providers.local.model_host.remote import current_host
from parley.records.service import CallRecords, transport_name
from parley.server.admission import HeldPlaces, SharedHeldPlaces
from parley.server.collector import GarbageCollector, GarbageCollectorMetrics
from parley.server.memory import HeapTrimmer
from parley.server.metrics import ServerMetrics
from parley.server.node import NodeView, WorkerReport
from parley.server.providers import ProviderLoader
from parley.server.sessions import SessionManager
from parley.session import Session, SessionConfig
from parley.session.port import Transport
from parley.session.tools import ToolBox
from parley.settings import Settings


class ServerNotReadyError(RuntimeError):
    """Providers are still loading (or failed): no session can start yet."""


class ServerBusyError(ServerNotReadyError):
    """The node is at capacity (admission settings): the call should go elsewhere."""


class SessionIdInUseError(RuntimeError):
    """A session with this id is already running (a replayed Twilio `start`, say)."""


@dataclass
class ServerState:
    settings: Settings
    loader: ProviderLoader
    sessions: SessionManager
    metrics: ServerMetrics = field(default_factory=ServerMetrics)
    problems: ProblemCounter = field(default_factory=ProblemCounter)  # bad requests, by kind
    node: NodeView = field(default_factory=NodeView)  # the other workers (parley serve --workers)
    # The embedded models' process, if any (the process-wide one; tests may pass their own).
    model_host: Callable[[], ModelHost | None] = current_host
    records: CallRecords | None = None  # None: call records are off
    # The [tools] the sessions offer, loaded once (a function that cannot be imported fails
    # the start, not a call).
    tools: ToolBox | None = None
    # This process's live calls, and the cluster's through Redis ([cluster]; docs/deploy.md).
    live: LiveSessions = field(init=False)
    cluster: ClusterNode = field(init=False)

    trimmer: HeapTrimmer = field(init=False)
    # Calls admitted at the Twilio webhook, their streams not started yet (admission.py).
    held: HeldPlaces | SharedHeldPlaces = field(init=False)
    collector: GarbageCollector = field(init=False)

    def __post_init__(self) -> None:
        self.metrics.watch_model_process(lambda: self.model_host())
        self.live = LiveSessions(self.settings.cluster.member_id())
        self.sessions.on_start.append(self.live.started)
        self.sessions.on_end.append(self.live.ended)
        self.cluster = ClusterNode(self.settings.cluster, self.live)
        if self.tools is None:
            self.tools = self.settings.tools.toolbox()
        # Read through self.sessions each time: a benchmark may swap the manager.
        self.trimmer = HeapTrimmer(
            busy=lambda: len(self.sessions) > 0,
            ended=lambda: self.sessions.ended,
            interval=self.settings.memory_trim_interval_s,
        )
        self.metrics.watch_trimmer(self.trimmer)
        hold_s = self.settings.admission.webhook_hold_s
        shared = self.node.directory
        self.held = (
            HeldPlaces(hold_s) if shared is None else SharedHeldPlaces(shared / "held", hold_s)
        )
        self.collector = GarbageCollector(
            ended=lambda: self.sessions.ended,
            after=self._trim_after_collection,
            interval=self.settings.gc_collect_interval_s,
        )
        self.metrics.registry.register(GarbageCollectorMetrics(self.collector))

    def _trim_after_collection(self) -> None:
        """What a collection freed goes back to the OS now (if trimming is on), not at a
        trim that may have run just before it."""
        if self.trimmer.interval > 0:
            self.trimmer.trim()

    def new_session(
        self,
        transport: Transport,
        *,
        config: SessionConfig | None = None,
        session_id: str | None = None,
        call_facts: Mapping[str, str] | None = None,
    ) -> Session:
        """A session for `transport`, observed by the metrics and the call records.
        `call_facts` are what the transport knows of the call (twilio_call_sid, twilio_from,
        twilio_to), kept in its record."""
        if not self.loader.ready:
            problem = "failed to load" if self.loader.failed else "still loading"
            raise ServerNotReadyError(f"providers {problem}; see /health")
        busy = self.busy()
        if busy is not None:
            raise ServerBusyError(busy)
        if session_id is not None and self.sessions.get(session_id) is not None:
            raise SessionIdInUseError(f"session {session_id} is already running")
        session = Session(
            transport,
            self.loader.providers,
            config or self.settings.session,
            session_id=session_id,
            tools=self.tools,
        )
        session.observers.append(self.metrics.observe)
        self.live.attach(session, transport_name(transport), call_facts)
        if self.records is not None:
            s = self.settings
            self.records.attach(
                session,
                transport=transport_name(transport),
                providers={"vad": s.vad, "stt": s.stt, "llm": s.llm, "tts": s.tts},
                facts=call_facts,
            )
        self.metrics.sessions.labels(type(transport).__name__).inc()
        return session

    def busy(self) -> str | None:
        """Why this process refuses a new session now (admission settings), or None. Places
        held for Twilio streams count here only in a process alone: a worker's held places
        are the node's, and their streams may land on any worker (`node_busy` counts them)."""
        held = len(self.held) if self.node.directory is None else 0
        return self._busy(len(self.sessions), held, workers=1)

    def node_busy(self) -> str | None:
        """Why the node refuses a new Twilio call at its webhook, or None: every worker's live
        calls (their reports, at most 0.2 s old) and the node's held places, against
        `max_sessions` per worker. A process alone is the node."""
        if self.node.directory is None:
            return self.busy()
        reports = self.node.workers(WorkerReport(os.getpid(), len(self.sessions), True))
        live = sum(report.sessions for report in reports)
        return self._busy(live, len(self.held), workers=len(reports))

    def _busy(self, live: int, held: int, *, workers: int) -> str | None:
        admission = self.settings.admission
        limit = None if admission.max_sessions is None else admission.max_sessions * workers
        if limit is not None and live + held >= limit:
            waiting = f" and {held} admitted, their streams not started" if held else ""
            where = f" on {workers} workers" if workers > 1 else ""
            return f"at capacity: {live} calls{where}{waiting} (admission.max_sessions)"
        bound = admission.max_loop_lag_s
        if bound is not None and self.metrics.lag.overloaded(bound):
            return (
                f"overloaded: event loop over {bound * 1000:.0f} ms late (admission.max_loop_lag_s)"
            )
        return None

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
