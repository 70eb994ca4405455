"""Giving freed heap memory back to the OS (glibc's `malloc_trim`), for every process parley runs.

glibc returns only the top of its heaps to the OS by itself. Memory freed between live blocks
stays resident: a server whose calls allocate and free audio buffers all day climbs in steps
and never comes down (server/memory.py), and so does the model process, whose model threads
each get an arena of their own (45 MB given back by one trim after a few minutes of calls).
`malloc_trim(0)` releases every free page wherever it lies. Other C libraries (musl, macOS)
have no such call: there `trim` does nothing and returns None.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time
from dataclasses import dataclass

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _load() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
    except OSError:
        return None
    if not hasattr(libc, "malloc_trim"):
        return None  # not glibc
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.malloc_trim.restype = ctypes.c_int
    return libc


_LIBC = _load()


def available() -> bool:
    return _LIBC is not None


def resident_bytes() -> int | None:
    """This process's resident memory now (Linux), or None."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


@dataclass(frozen=True)
class Trim:
    seconds: float
    released_bytes: int  # resident memory before less after (0 if it grew meanwhile)


def trim() -> Trim | None:
    """Give every free heap page back now; None where there is no `malloc_trim`."""
    if _LIBC is None:
        return None
    before = resident_bytes() or 0
    started = time.perf_counter()
    _LIBC.malloc_trim(0)
    seconds = time.perf_counter() - started
    return Trim(seconds, max(0, before - (resident_bytes() or 0)))
