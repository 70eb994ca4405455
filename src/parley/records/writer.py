"""The one task that writes call records, so no call ever waits for the database.

Sessions hand it rows through `put`, which is synchronous and O(1): the input and output
paths never await the database (invariant 1). Writes go out in order, each in its own
transaction. A failing or unreachable database is retried with back-off while the queue
holds the writes; past the queue's bound new writes are dropped, counted (`on_drop`, the
Prometheus counter) and logged sparsely with how many.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import DataError, IntegrityError

from parley.records.rows import Write

log = logging.getLogger("parley.records")

# A write the database refuses for what it is (a duplicate, a value it cannot store) will be
# refused again: it is dropped. Anything else (a connection, a timeout) is retried.
_REFUSED = (IntegrityError, DataError)


class RecordWriter:
    def __init__(
        self,
        write: Callable[[Write], Awaitable[None]],
        *,
        queue_size: int,
        on_drop: Callable[[int], None] = lambda n: None,
        prepare: Callable[[], Awaitable[None]] | None = None,
        write_timeout: float = 10.0,
        backoff: tuple[float, float] = (0.2, 30.0),
        log_every: float = 10.0,
    ) -> None:
        self._write = write
        self._prepare = prepare
        self._queue: deque[Write] = deque()
        self.queue_size = queue_size
        self._on_drop = on_drop
        self._write_timeout = write_timeout
        self._backoff = backoff
        self._log_every = log_every
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.ready = asyncio.Event()  # the database is prepared (migrated, recovered)
        self.written = 0
        self.dropped = 0
        self._dropped_unlogged = 0
        self._last_drop_log: float | None = None
        self._last_failure_log: float | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def put(self, item: Write) -> bool:
        """Queue one write; never blocks. False (and counted) when the queue is full."""
        if len(self._queue) >= self.queue_size:
            self._drop(1, "the queue is full")
            return False
        self._queue.append(item)
        self._idle.clear()
        self._wakeup.set()
        return True

    async def drained(self) -> None:
        """Wait until every queued write is done (tests; shutdown)."""
        await self._idle.wait()

    async def run(self) -> None:
        if self._prepare is not None:
            await self._retrying("prepare the database", self._prepare)
        self.ready.set()
        while True:
            if not self._queue:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            item = self._queue[0]
            try:
                await self._retrying("write a call record", functools.partial(self._write, item))
            except _REFUSED as exc:
                log.error("call records: the database refused a %s: %s", type(item).__name__,
                          exc.orig if exc.orig is not None else exc)  # fmt: skip
                self._drop(1, "the database refused it", quiet=True)
            else:
                self.written += 1
            self._queue.popleft()

    async def aclose(self, task: asyncio.Task[None], deadline: float) -> None:
        """Let the queue drain (bounded), then stop the task."""
        if self.ready.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(deadline):
                    await self.drained()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self._queue:
            self._drop(len(self._queue), "the server stopped before they were written")
            self._queue.clear()
        self._flush_drop_log()

    async def _retrying(self, what: str, attempt: Callable[[], Awaitable[None]]) -> None:
        delay, ceiling = self._backoff
        while True:
            try:
                async with asyncio.timeout(self._write_timeout):
                    await attempt()
                return
            except _REFUSED:
                raise
            except Exception as exc:
                now = asyncio.get_running_loop().time()
                if self._last_failure_log is None or now - self._last_failure_log >= 30.0:
                    self._last_failure_log = now
                    log.warning(
                        "call records: could not %s (%s: %s); retrying, %d writes queued",
                        what, type(exc).__name__, exc, len(self._queue),
                    )  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, ceiling)

    def _drop(self, count: int, why: str, *, quiet: bool = False) -> None:
        self.dropped += count
        self._on_drop(count)
        if quiet:
            return
        self._dropped_unlogged += count
        now = asyncio.get_running_loop().time()
        if self._last_drop_log is None or now - self._last_drop_log >= self._log_every:
            self._last_drop_log = now
            log.error("call records: dropped %d writes (%s; %d dropped in all)",
                      self._dropped_unlogged, why, self.dropped)  # fmt: skip
            self._dropped_unlogged = 0

    def _flush_drop_log(self) -> None:
        if self._dropped_unlogged:
            log.error("call records: dropped %d more writes (%d in all)",
                      self._dropped_unlogged, self.dropped)  # fmt: skip
            self._dropped_unlogged = 0
