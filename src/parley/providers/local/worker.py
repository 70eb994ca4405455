"""A model's own thread: the event loop never runs model code, and sessions take turns.

Each embedded model (STT, LLM, TTS) gets one worker thread for the life of the process.
Calls queue in the order they are made, whichever session makes them: first come, first
served, so no session can starve another, and a model never runs two calls at once (these
models want both cores for one call; two at once would only slow both down).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class ModelWorker:
    def __init__(self, name: str) -> None:
        self.name = name
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"parley-{name}")
        self._lock = threading.Lock()
        self._waiting = 0
        self.calls = 0

    @property
    def waiting(self) -> int:
        """Calls queued or running now (for health and load reports)."""
        return self._waiting

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `function` on the model's thread, after the calls queued before it.

        If the caller is cancelled, the call still finishes on the thread (model code cannot
        be interrupted mid-call) but its result is dropped; long calls should also watch a
        stop flag, as the LLM's token loop does.
        """
        return await asyncio.wrap_future(self.submit(function, *args, **kwargs))

    def submit(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue a call without waiting for it (for producers that stream back results)."""
        with self._lock:
            self._waiting += 1
            self.calls += 1
        future = self._executor.submit(function, *args, **kwargs)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _: Future[Any]) -> None:
        with self._lock:
            self._waiting -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
