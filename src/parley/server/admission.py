"""Calls admitted at the Twilio webhook whose media stream has not arrived yet.

Twilio asks the webhook first and opens the stream a moment later. Counting only live
sessions, a burst of calls all passed the webhook before any stream arrived, and the node
then refused a third of them at the stream (measured: 195 calls offered to a node of 130,
65 refused at the stream, 0 at the webhook), where the caller hears nothing and the refusal
is slower. Each admitted call holds a place for `hold_s` seconds, until its stream starts
(`take`) or the hold runs out (a stream that never came); the webhook's busy check counts
those places, so the burst is refused where the caller hears a busy signal.

With `--workers` a webhook and its stream may land on different workers (one keep-alive
connection from a balancer brings every webhook to the same one), so the places are the
node's: one file per held call in a directory the workers share (SharedHeldPlaces), removed
by whichever worker the stream reaches. Measured with the overload bench, 2 workers of 45
calls: with places per worker, 45 of the 135 calls offered were accepted (the worker that took
every webhook filled its own count); the node had room for 90.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

MAX_HELD = 10_000  # a flood of webhooks holds at most this many places (oldest dropped)
_CALL_NAME = re.compile(r"[A-Za-z0-9]{1,64}")  # a Call SID as a file name: nothing else


class HeldPlaces:
    def __init__(self, hold_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.hold_s = hold_s
        self._clock = clock
        self._until: OrderedDict[str, float] = OrderedDict()  # call -> expiry, oldest first

    def hold(self, call: str) -> None:
        """`call` was admitted at the webhook: keep its place until its stream starts."""
        self._until.pop(call, None)
        self._until[call] = self._clock() + self.hold_s
        while len(self._until) > MAX_HELD:
            self._until.popitem(last=False)

    def take(self, call: str) -> bool:
        """Its stream started: the place becomes a session. False if none was held here."""
        return self._until.pop(call, None) is not None

    def __len__(self) -> int:
        now = self._clock()
        while self._until:
            call, until = next(iter(self._until.items()))
            if until > now:
                break
            del self._until[call]
        return len(self._until)


class SharedHeldPlaces:
    """HeldPlaces for the workers of one node: a place is a file named after the call in
    `directory`, its modification time set to when the hold runs out. Any worker counts them
    (and removes the expired), any worker takes one when the call's stream starts."""

    def __init__(
        self, directory: Path, hold_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.directory = directory
        self.hold_s = hold_s
        self._clock = clock
        directory.mkdir(parents=True, exist_ok=True)

    def hold(self, call: str) -> None:
        """No bound of its own: the webhook holds a place only after `node_busy` counted
        fewer than the node's capacity (a flood is refused, not held)."""
        if _CALL_NAME.fullmatch(call) is None:
            return
        path = self.directory / call
        until = self._clock() + self.hold_s
        with contextlib.suppress(OSError):
            path.touch()
            os.utime(path, (until, until))

    def take(self, call: str) -> bool:
        if _CALL_NAME.fullmatch(call) is None:
            return False
        try:
            (self.directory / call).unlink()
        except OSError:
            return False
        return True

    def __len__(self) -> int:
        now = self._clock()
        count = 0
        with contextlib.suppress(OSError), os.scandir(self.directory) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime > now:
                        count += 1
                    else:
                        os.unlink(entry.path)  # a stream that never came
        return count
