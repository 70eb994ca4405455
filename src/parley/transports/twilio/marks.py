"""Marks: how the server learns what the caller has actually heard.

Every outbound audio frame is followed by a mark naming where its audio ends in its response.
Twilio echoes a mark once everything queued before it has played, so each echo is a playback
report: "the caller has heard the response up to here". Echoes come back in the order sent.

After a clear, the marks still outstanding can no longer mean "played": Twilio drops them or
echoes them at once (its documentation says it echoes them; either way works here). They are
voided, and their echoes are recognised and ignored.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass

from parley.session.port import PlaybackReport

_VOIDED_KEPT = 4096  # voided names remembered (those Twilio never echoes would pile up)
_PENDING_KEPT = 3000  # a minute of frames: a caller that never echoes must not pile them up


@dataclass(frozen=True, slots=True)
class _Pending:
    response_id: str
    end: float  # seconds into the response where the frame before the mark ends


class UnknownMarkError(ValueError):
    """An echoed mark this server never sent (or already forgot)."""


class MarkLedger:
    def __init__(self) -> None:
        self._serial = itertools.count(1)
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._voided: OrderedDict[str, None] = OrderedDict()
        self.reports = 0
        self.voided_echoes = 0
        self.forgotten = 0  # outstanding marks dropped unechoed (the caller never echoes)

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    def issue(self, response_id: str, end: float) -> str:
        """A new mark for audio of `response_id` ending `end` seconds into it."""
        name = f"{response_id}@{end:.3f}#{next(self._serial)}"
        self._pending[name] = _Pending(response_id, end)
        if len(self._pending) > _PENDING_KEPT:
            self._pending.popitem(last=False)  # forgotten: its echo, if any, is unknown
            self.forgotten += 1
        return name

    def echoed(self, name: str) -> PlaybackReport | None:
        """What an echo means: a report, or None for a voided mark; raises if unknown."""
        if name not in self._pending:
            if name in self._voided:
                del self._voided[name]
                self.voided_echoes += 1
                return None
            raise UnknownMarkError(f"echo of a mark never sent: {name[:80]!r}")
        # Echoes come in the order sent, so marks sent before this one have played too.
        while True:
            first, pending = self._pending.popitem(last=False)
            if first == name:
                break
        self.reports += 1
        return PlaybackReport(pending.response_id, pending.end)

    def void_outstanding(self) -> int:
        """A clear went out: no outstanding mark can mean "played" any more."""
        count = len(self._pending)
        for name in self._pending:
            self._voided[name] = None
        self._pending.clear()
        while len(self._voided) > _VOIDED_KEPT:
            self._voided.popitem(last=False)
        return count
