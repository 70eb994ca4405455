"""A model-free engine for testing the model process itself: tokens at a set pace.

It runs in the real child process like the real models do, so the channel, the queueing,
cancellation, the fault switch and restarts can be tested in seconds without loading a
model. With a `journal` file it writes what it did there (the test reads it after).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from parley.providers.local.model_host.wire import Header

Item = tuple[Header, bytes]


class ScriptedEngine:
    def __init__(self, options: Header) -> None:
        self.kind = str(options.get("kind", "llm"))
        self.info: Header = {"sample_rate": 16000}
        journal = options.get("journal")
        self._journal = Path(journal) if journal else None
        time.sleep(float(options.get("load_seconds", 0.0)))
        if exit_status := options.get("exit_on_load"):  # a model that kills its process
            os._exit(int(exit_status))

    def run(self, request: Header, payload: bytes, stop: threading.Event) -> Iterator[Item]:
        """`count` tokens "0 ", "1 "... `delay` seconds apart; the payload comes back last."""
        label = str(request.get("label", ""))
        self._note(f"start {label}")
        sent = 0
        try:
            for index in range(int(request.get("count", 3))):
                if stop.is_set():
                    break
                time.sleep(float(request.get("delay", 0.0)))
                yield {"token": f"{index} "}, b""
                sent += 1
            if payload and not stop.is_set():
                yield {"echo": len(payload)}, payload
        finally:
            self._note(f"end {label} {sent}")

    def _note(self, line: str) -> None:
        if self._journal is not None:
            with self._journal.open("a", encoding="utf-8") as journal:
                journal.write(line + "\n")
