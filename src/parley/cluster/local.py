"""This process's live sessions: what the list shows of each, their event streams, and the
commands the API may give them. Everything here is synchronous and bounded: a watcher that
stops reading loses events, never delays the call (invariant 1)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from parley.events import SessionEnded, SessionEvent
from parley.session import Session

WATCHER_QUEUE = 256  # events a slow watcher may fall behind by before it loses some


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A live call as `GET /v1/sessions` shows it."""

    id: str
    node: str
    transport: str
    started_at: str  # ISO 8601, UTC
    phase: str
    twilio_call_sid: str | None


class LiveSessions:
    """The sessions this process runs, by id; told of starts and ends by the SessionManager."""

    def __init__(self, node: str) -> None:
        self.node = node
        self._pending: weakref.WeakKeyDictionary[Session, SessionInfo] = weakref.WeakKeyDictionary()
        self._live: dict[str, tuple[Session, SessionInfo]] = {}
        self._watchers: dict[str, set[asyncio.Queue[SessionEvent]]] = {}
        # Set by the cluster node: each event of each session, and the list changed.
        self.on_event: Callable[[str, SessionEvent], None] = lambda _id, _event: None
        self.on_change: Callable[[], None] = lambda: None

    def attach(self, session: Session, transport: str, facts: Mapping[str, str] | None) -> None:
        """Note what the list shows of a new session, and watch its events."""
        started = datetime.now(UTC).isoformat(timespec="milliseconds")
        sid = (facts or {}).get("twilio_call_sid")
        self._pending[session] = SessionInfo(session.id, self.node, transport, started, "", sid)
        session.observers.append(lambda event: self._observe(session.id, event))

    def started(self, session: Session) -> None:
        info = self._pending.pop(session, None)
        if info is not None:
            self._live[session.id] = (session, info)
            self.on_change()

    def ended(self, session: Session) -> None:
        if self._live.pop(session.id, None) is not None:
            self.on_change()

    def list(self) -> list[SessionInfo]:
        return [replace(info, phase=str(session.conversation.phase))
                for session, info in self._live.values()]  # fmt: skip

    def get(self, session_id: str) -> Session | None:
        live = self._live.get(session_id)
        return live[0] if live is not None else None

    def hangup(self, session_id: str) -> bool:
        session = self.get(session_id)
        if session is not None:
            session.hangup("hung up through the API")
        return session is not None

    def say(self, session_id: str, text: str) -> bool:
        session = self.get(session_id)
        if session is not None:
            session.say(text)
        return session is not None

    def watch(self, session_id: str) -> asyncio.Queue[SessionEvent] | None:
        """A queue of the session's events from now on (None: not here); `unwatch` it after."""
        if session_id not in self._live:
            return None
        queue: asyncio.Queue[SessionEvent] = asyncio.Queue(WATCHER_QUEUE)
        self._watchers.setdefault(session_id, set()).add(queue)
        return queue

    def unwatch(self, session_id: str, queue: asyncio.Queue[SessionEvent]) -> None:
        watchers = self._watchers.get(session_id)
        if watchers is not None:
            watchers.discard(queue)
            if not watchers:
                del self._watchers[session_id]

    def _observe(self, session_id: str, event: SessionEvent) -> None:
        for queue in self._watchers.get(session_id, ()):
            if not queue.full():
                queue.put_nowait(event)
            elif isinstance(event, SessionEnded):  # the end always reaches the watcher
                queue.get_nowait()
                queue.put_nowait(event)
        self.on_event(session_id, event)
