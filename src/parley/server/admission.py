"""Calls admitted at the Twilio webhook whose media stream has not arrived yet.

Twilio asks the webhook first and opens the stream a moment later. Counting only live
sessions, a burst of calls all passed the webhook before any stream arrived, and the node
then refused a third of them at the stream (measured: 195 calls offered to a node of 130,
65 refused at the stream, 0 at the webhook), where the caller hears nothing and the refusal
is slower. Each admitted call holds a place for `hold_s` seconds, until its stream starts
(`take`) or the hold runs out (a stream that never came); the webhook's busy check counts
those places, so the burst is refused where the caller hears a busy signal.

Places are per process: with `--workers` a stream may land on another worker than its
webhook; that worker admits it against its own count, and the webhook's place expires.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

MAX_HELD = 10_000  # a flood of webhooks holds at most this many places (oldest dropped)


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
