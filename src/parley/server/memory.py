"""Giving freed heap memory back to the OS while calls come and go.

Why: a soak of 50 calls for 10 minutes with the fakes grew the server's resident memory
68% (115 to 194 MB) in steps, and none of it came back after every call hung up, while the
Python heap (tracemalloc, object counts by type) did not grow at all. glibc's malloc info
put the difference in its main heap: every call allocates and frees many medium blocks
(each frame's audio bytes over 512 bytes, numpy buffers, websocket and JSON buffers), and
the freed blocks stay in glibc's free lists between live ones, resident, because glibc only
returns the top of the heap to the OS on its own. `malloc_trim(0)` returns every free page,
wherever it lies in the heap. On a 50-call server it takes a few milliseconds (the soak
reports the longest, `parley_memory_trim_seconds`), so it runs every `interval` seconds while
calls are up or have ended since the last trim, and never on an idle server.

Other allocators (musl, macOS) have no `malloc_trim`: there the trimmer does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("parley.server")

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    if not hasattr(libc, "malloc_trim"):
        return None  # not glibc
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.malloc_trim.restype = ctypes.c_int
    return libc


def resident_bytes() -> int | None:
    """This process's resident memory now (Linux), or None."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


@dataclass
class Trim:
    seconds: float
    released_bytes: int  # resident memory before less after (0 if it grew meanwhile)


class HeapTrimmer:
    """Calls glibc's `malloc_trim(0)` every `interval` seconds while there is churn to undo.

    `busy()` says whether sessions are running; `ended()` counts sessions that have ended.
    The trim runs on the event loop thread: in another thread it would hold the heap's lock
    while the loop's own allocations waited for it, with the same delay to calls.
    """

    def __init__(
        self, busy: Callable[[], bool], ended: Callable[[], int], interval: float = 10.0
    ) -> None:
        self.interval = interval
        self._busy = busy
        self._ended = ended
        self._libc = _libc()
        self.trims = 0
        self.released_bytes = 0
        self.longest_s = 0.0
        self.last: Trim | None = None

    @property
    def available(self) -> bool:
        return self._libc is not None

    def trim(self) -> Trim | None:
        """Give free heap pages back now; None where there is no `malloc_trim`."""
        if self._libc is None:
            return None
        before = resident_bytes() or 0
        started = time.perf_counter()
        self._libc.malloc_trim(0)
        seconds = time.perf_counter() - started
        after = resident_bytes() or 0
        trim = Trim(seconds, max(0, before - after))
        self.trims += 1
        self.released_bytes += trim.released_bytes
        self.longest_s = max(self.longest_s, seconds)
        self.last = trim
        return trim

    async def run(self) -> None:
        if self.interval <= 0:
            return
        if self._libc is None:
            log.info("no malloc_trim in this C library: freed heap memory is not trimmed")
            return
        seen = self._ended()
        while True:
            await asyncio.sleep(self.interval)
            ended = self._ended()
            if self._busy() or ended != seen:
                seen = ended
                self.trim()
