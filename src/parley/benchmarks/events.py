"""What the benchmark servers report from inside: one JSON object a line, appended to a file.

A server writes when a call starts and when it is fully closed (with the longest gap between
inbound frames reaching STT during the call), and parley also writes each turn's timings.
Times are `time.monotonic()`: CLOCK_MONOTONIC on Linux, the same clock in every process, so
the harness compares them directly with its callers' timestamps. Nothing is written per frame.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Event = dict[str, Any]


class EventLog:
    """The server's side: append events (a line each, flushed at once)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, "at": time.monotonic(), **fields})
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


def read_events(path: Path) -> list[Event]:
    """The harness's side: every complete event so far."""
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:  # a line being written right now
            continue
    return events


async def wait_for_event(
    path: Path, match: Callable[[Event], bool], within: float, poll: float = 0.02
) -> Event | None:
    """The first event that matches, waiting up to `within` seconds for it (None: none came)."""
    deadline = time.monotonic() + within
    while True:
        found = next((e for e in read_events(path) if match(e)), None)
        if found is not None or time.monotonic() >= deadline:
            return found
        await asyncio.sleep(poll)
