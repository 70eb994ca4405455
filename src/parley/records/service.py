"""Call records as the server runs them: the store, its writer task, retention, and the
observer each session gets. Owned by the server's lifespan (server/app.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from parley import timing
from parley.records.observer import CallObserver
from parley.records.recording import RECORDING_SUFFIX, CallRecording, start_recording
from parley.records.rows import CallOpened
from parley.records.settings import RecordsSettings
from parley.records.store import Store
from parley.records.writer import RecordWriter
from parley.session import Session

log = logging.getLogger("parley.records")

CALL_ID = re.compile(r"[0-9a-f]{32}")
RETENTION_INTERVAL_S = 3600.0


class CallRecords:
    def __init__(
        self,
        settings: RecordsSettings,
        *,
        node: str | None = None,
        shared: bool = False,
        on_drop: Callable[[int], None] = lambda n: None,
    ) -> None:
        """`node` names this node in its calls' rows (cluster.node_id or the host name).
        `shared`: other live nodes write to the same database, so at start this node closes
        only its own calls left open; alone, it closes every one (its host name may not be
        the one its calls were written under: a new container's, say)."""
        self.settings = settings
        self.node = node
        self.recovers = node if shared else None
        self.store = Store(settings.url())
        self.writer = RecordWriter(
            self.store.write, queue_size=settings.queue_size, on_drop=on_drop,
            prepare=self._prepare,
        )  # fmt: skip
        self._tasks: list[asyncio.Task[None]] = []
        # Recordings whose writer thread may still be finishing a file: a server that stops
        # waits for them (bounded), so a clean shutdown never cuts a file as a crash would.
        self._recordings: list[CallRecording] = []

    async def start(self) -> None:
        """Start the writer (it migrates the database and closes the calls a killed server
        left open before any new write) and the retention task."""
        self._tasks.append(asyncio.create_task(self.writer.run(), name="call records writer"))
        if self.settings.retention_days is not None:
            self._tasks.append(asyncio.create_task(self._retain(), name="call records retention"))

    async def aclose(self, deadline: float = 5.0) -> None:
        live = [r for r in self._recordings if not r.finished]
        if live:
            try:
                async with asyncio.timeout(deadline):
                    await asyncio.gather(*(r.aclose() for r in live))
            except TimeoutError:
                log.error("%d recordings still being written at shutdown", len(live))
        for task in self._tasks[1:]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._tasks:
            await self.writer.aclose(self._tasks[0], deadline)
        self._tasks.clear()
        await self.store.aclose()

    def attach(
        self,
        session: Session,
        *,
        transport: str,
        providers: dict[str, str],
        facts: Mapping[str, str] | None = None,
    ) -> str:
        """Record `session` from now on (its start); returns the call id."""
        call_id = uuid.uuid4().hex
        started_wall, started_loop = datetime.now(UTC), timing.now()
        facts = facts or {}
        self.writer.put(
            CallOpened(
                id=call_id,
                transport=transport,
                started_at=started_wall,
                providers=providers,
                policy=_policy(session),
                recording=self.settings.recordings,
                twilio_call_sid=facts.get("twilio_call_sid"),
                twilio_from=facts.get("twilio_from") or None,
                twilio_to=facts.get("twilio_to") or None,
                node=self.node,
            )
        )
        # One timeline for the turns' times and the recording: second 0 is this moment.
        session.started_at = started_loop
        session.observers.append(CallObserver(call_id, started_wall, started_loop, self.writer.put))
        if self.settings.recordings:
            path = self.settings.recordings_dir / f"{call_id}{RECORDING_SUFFIX}"
            self._recordings = [r for r in self._recordings if not r.finished]
            self._recordings.append(start_recording(session, path))
        return call_id

    def recording_file(self, call_id: str) -> Path | None:
        """The call's recording, if there is one (`<data_dir>/recordings/<id>.ogg`)."""
        if CALL_ID.fullmatch(call_id) is None:
            return None
        path = self.settings.recordings_dir / f"{call_id}{RECORDING_SUFFIX}"
        return path if path.is_file() else None

    async def delete(self, call_id: str) -> bool:
        """Remove a call's rows and its recording; False if there was no such call."""
        found = await self.store.delete_call(call_id)
        path = self.recording_file(call_id)
        if path is not None:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        return found

    async def expire(self, now: datetime | None = None) -> int:
        """Delete the calls older than `retention_days`; returns how many."""
        days = self.settings.retention_days
        if days is None:
            return 0
        cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
        deleted = 0
        while ids := await self.store.calls_before(cutoff):
            for call_id in ids:
                deleted += await self.delete(call_id)
        if deleted:
            log.info("call records: deleted %d calls older than %d days", deleted, days)
        return deleted

    async def _prepare(self) -> None:
        await self.store.migrate()
        if not self.settings.recover_at_start:
            return
        closed = await self.store.close_open_calls(self.recovers)
        if closed:
            log.warning("call records: closed %d calls left open (server stopped)", closed)

    async def _retain(self) -> None:
        await self.writer.ready.wait()
        while True:
            try:
                await self.expire()
            except Exception:
                log.exception("call records: retention failed; trying again in an hour")
            await asyncio.sleep(RETENTION_INTERVAL_S)


def _policy(session: Session) -> dict[str, Any]:
    policy: dict[str, Any] = session.conversation.policy.model_dump(mode="json")
    return policy


def transport_name(transport: object) -> str:
    """twilio, browser, realtime or memory: the transport class's name, lower case."""
    return type(transport).__name__.removesuffix("Transport").lower()


async def recover(settings: RecordsSettings, node: str | None = None) -> int:
    """Migrate the database and close the calls a killed server left open (`node`'s only,
    when named), once, before a node's workers start (`parley serve --workers`); returns
    how many were closed."""
    store = Store(settings.url())
    try:
        await store.migrate()
        closed = await store.close_open_calls(node)
    finally:
        await store.aclose()
    if closed:
        log.warning("call records: closed %d calls left open (server stopped)", closed)
    return closed
