"""Python's garbage collector as a real-time server needs it: the start-up heap frozen, and
every collection's pause measured.

A full (generation 2) collection walks every object the collector tracks, and the loop waits
for it. Measured in the capacity bench with 80 calls: 81 ms (four frame periods, against
invariant 1), nearly all of it spent walking what start-up made and keeps for the process's
life: modules, FastAPI and pydantic's models, the providers. `gc.freeze()` moves those to
the permanent generation once the providers are loaded, so a full collection walks only what
the calls made (and a forked worker's pages are not touched by the collector either).
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

log = logging.getLogger(__name__)

_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


def freeze_startup_heap() -> int:
    """Collect once, then move every surviving object to the permanent generation; returns
    how many objects were frozen. Called when the providers are loaded, before calls."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "garbage collector: %d start-up objects frozen in %.0f ms",
        frozen,
        1000 * (time.perf_counter() - started),
    )
    return frozen


class GCPauses:
    """Each collection's pause, by generation, as `parley_gc_pause_seconds`, and the longest
    since start. Installed as a `gc.callbacks` entry (the collector calls it at the start and
    end of every collection, on whatever thread triggered it)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.histogram = Histogram(
            "parley_gc_pause_seconds",
            "Garbage collections, by generation: how long each held the process.",
            ["generation"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.longest = 0.0
        self._started = 0.0

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        self.longest = max(self.longest, pause)
        self.histogram.labels(str(info["generation"])).observe(pause)
