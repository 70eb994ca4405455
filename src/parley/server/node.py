"""What the other workers of this node are doing, for /health and /health/ready.

With `parley serve --workers N` each worker is its own process with its own sessions; a load
balancer asks one of them (whichever accepts the connection) about the whole node. Each worker
writes a small report (pid, live calls, whether it accepts new ones) to a directory the parent
made (`PARLEY_NODE_DIR`) every 0.2 s, and reads the others' there. The parent removes the
report of a worker that died; a report whose process is gone is skipped anyway. Without the
directory (one process) the node is this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NODE_DIR = "PARLEY_NODE_DIR"
PUBLISH_EVERY = 0.2


@dataclass(frozen=True, slots=True)
class WorkerReport:
    pid: int
    sessions: int
    accepting: bool


class NodeView:
    def __init__(self, directory: str | None = None) -> None:
        chosen = directory if directory is not None else os.environ.get(NODE_DIR)
        self.directory = Path(chosen) if chosen else None

    def publish(self, report: WorkerReport) -> None:
        """Write this worker's report (atomically: readers never see half of one)."""
        if self.directory is None:
            return
        path = self.directory / f"{report.pid}.json"
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(
            {"pid": report.pid, "sessions": report.sessions, "accepting": report.accepting}
        ))  # fmt: skip
        os.replace(partial, path)

    def workers(self, own: WorkerReport) -> list[WorkerReport]:
        """Every live worker's report, this one's (fresh) included."""
        if self.directory is None:
            return [own]
        reports = {own.pid: own}
        for path in self.directory.glob("*.json"):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                data = json.loads(path.read_text())
                pid = int(data["pid"])
                if pid not in reports and _alive(pid):
                    reports[pid] = WorkerReport(pid, int(data["sessions"]), bool(data["accepting"]))
        return sorted(reports.values(), key=lambda r: r.pid)

    def forget(self, pid: int) -> None:
        """The parent, when a worker has died."""
        if self.directory is not None:
            with contextlib.suppress(OSError):
                (self.directory / f"{pid}.json").unlink()


async def publish_forever(view: NodeView, report: Callable[[], WorkerReport]) -> None:
    """Publish `report()` every PUBLISH_EVERY seconds (a lifespan task of each worker)."""
    while True:
        with contextlib.suppress(OSError):
            view.publish(report())
        await asyncio.sleep(PUBLISH_EVERY)


def reporting_lifespan(
    lifespan: Callable[[Any], AbstractAsyncContextManager[None]],
    view: NodeView,
    report: Callable[[], WorkerReport],
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """`lifespan`, with this worker's report published while the app runs."""

    @contextlib.asynccontextmanager
    async def reporting(app: Any) -> AsyncIterator[None]:
        task = asyncio.create_task(publish_forever(view, report), name="node reports")
        try:
            async with lifespan(app):
                yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return reporting


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
