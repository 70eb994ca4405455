"""The sessions a server is running: counted for /health, listed (the sessions API), hung up
on shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from parley.session import Session

log = logging.getLogger("parley.server")


class SessionManager:
    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        # Told when a session starts running and when it has ended (the live list).
        self.on_start: list[Callable[[Session], None]] = []
        self.on_end: list[Callable[[Session], None]] = []
        self.ended = 0  # sessions run to their end so far (the heap trimmer's cue)

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    async def run(self, session: Session) -> None:
        """Run a session to its end (called by a transport's connection handler). Ids are
        unique among running sessions: ServerState.new_session refuses one in use."""
        if session.id in self._sessions:
            raise ValueError(f"session {session.id} is already running")
        self._sessions[session.id] = session
        self._idle.clear()
        try:
            for hook in self.on_start:
                hook(session)
            await session.run()
        finally:
            del self._sessions[session.id]
            for hook in self.on_end:
                hook(session)
            self.ended += 1
            if not self._sessions:
                self._idle.set()

    async def close_all(self, deadline: float) -> None:
        """Hang up every session and wait (bounded) for them to close."""
        for session in list(self._sessions.values()):
            session.hangup("server shutting down")
        try:
            async with asyncio.timeout(deadline):
                await self._idle.wait()
        except TimeoutError:
            log.error("%d sessions still open at shutdown", len(self._sessions))
