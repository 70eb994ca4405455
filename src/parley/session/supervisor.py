"""The supervisor: owns every background task of a session and ends them within deadlines.

Why not a bare TaskGroup: a TaskGroup waits, without limit, for its children to finish once
cancelled, and provider code that hangs in its cleanup (a websocket close that never
completes) would hang the session with it. The supervisor cancels, waits up to a deadline,
cancels again (which breaks a hang inside cleanup code), and past that abandons the task
and says so in the log (invariant 2). Inside a task, TaskGroups are still the tool.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

log = logging.getLogger("parley.supervisor")

ErrorHandler = Callable[[str, BaseException], None]


async def close_within(closer: Awaitable[Any], deadline: float, what: str) -> None:
    """Await a cleanup, giving up after `deadline` seconds; never raises (but cancellation)."""
    try:
        async with asyncio.timeout(deadline):
            await closer
    except TimeoutError:
        log.warning("%s did not finish within %.1f s; abandoned", what, deadline)
    except Exception as exc:
        log.warning("%s failed: %s", what, _describe(exc))


class Supervisor:
    def __init__(self, name: str, *, deadline: float = 2.0, on_error: ErrorHandler | None = None):
        self.name = name
        self.deadline = deadline
        self._on_error = on_error
        self._tasks: dict[asyncio.Task[Any], str] = {}
        self._retiring: set[asyncio.Task[Any]] = set()  # cancelled once, given their deadline
        self.abandoned: list[str] = []
        self._closing = False

    @property
    def tasks(self) -> list[str]:
        """Names of the tasks still running (for diagnostics and tests)."""
        return [name for task, name in self._tasks.items() if not task.done()]

    def spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coro` as a task this supervisor owns; its failure is logged and reported."""
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}:{name}")
        self._tasks[task] = name
        task.add_done_callback(self._finished)
        return task

    def retire(self, task: asyncio.Task[Any], deadline: float | None = None) -> None:
        """Cancel a task now and make sure it is gone within the deadline, without waiting."""
        if task.done():
            return
        task.cancel()
        self._retiring.add(task)
        name = self._tasks.get(task, task.get_name())
        self.spawn(f"retire {name}", self._reap([task], deadline or self.deadline))

    def clean_up(
        self, name: str, closer: Coroutine[Any, Any, Any], deadline: float | None = None
    ) -> None:
        """Run a cleanup (a provider close) in the background, bounded by the deadline."""
        self.spawn(name, close_within(closer, deadline or self.deadline, name))

    async def aclose(self, cleanups: Mapping[str, Coroutine[Any, Any, Any]] | None = None) -> None:
        """Cancel everything, run the final cleanups, and return within the deadline."""
        self._closing = True
        current = asyncio.current_task()
        running = [t for t in self._tasks if t is not current and not t.done()]
        for task in running:
            if task not in self._retiring:  # those already had their first cancel
                task.cancel()
        running += [self.spawn(name, closer) for name, closer in (cleanups or {}).items()]
        await self._reap(running, self.deadline)

    async def _reap(self, tasks: list[asyncio.Task[Any]], deadline: float) -> None:
        """Wait for cancelled tasks; re-cancel the stuck ones; abandon what still resists."""
        if not tasks:
            return
        grace = min(0.1, deadline / 10)
        _, pending = await asyncio.wait(tasks, timeout=deadline - grace)
        if not pending:
            return
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=grace)
        for task in pending:
            name = self._tasks.get(task, task.get_name())
            self.abandoned.append(name)
            log.error("%s: task %r ignored cancellation past %.1f s; abandoned",
                      self.name, name, deadline)  # fmt: skip

    def _finished(self, task: asyncio.Task[Any]) -> None:
        name = self._tasks.pop(task, task.get_name())
        self._retiring.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        log.error("%s: task %r failed: %s", self.name, name, _describe(exc), exc_info=exc)
        if self._on_error is not None and not self._closing:
            self._on_error(name, exc)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
