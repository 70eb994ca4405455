"""Bad input counted by kind, and logged sparingly.

A peer that sends one malformed message usually sends thousands (a broken client in a loop,
a flood): each kind is logged on its 1st, 2nd, 4th, 8th... occurrence, so the log shows the
problem and how often, without drowning.
"""

from __future__ import annotations

import logging
from collections import Counter


class ProblemCounter(Counter[str]):
    def due(self, kind: str) -> int | None:
        """Count one more `kind`; its count if this occurrence should be logged (a power of
        two), else None."""
        self[kind] += 1
        count = self[kind]
        return None if count & (count - 1) else count

    def note(self, kind: str, logger: logging.Logger, message: str, *args: object) -> bool:
        """Count one more `kind`; log `message` if this occurrence is a power of two.
        With `args`, `message` is a format string for them: pass what a peer sent as
        `parley.logsafe.field`s, never inside `message`. Returns whether it was logged."""
        count = self.due(kind)
        if count is None:
            return False
        if args:
            logger.warning(f"{message} (%d so far)", *args, count)
        else:
            logger.warning("%s (%d so far)", message, count)
        return True
