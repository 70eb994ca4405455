"""Bad input counted by kind, and logged sparingly.

A peer that sends one malformed message usually sends thousands (a broken client in a loop,
a flood): each kind is logged on its 1st, 2nd, 4th, 8th... occurrence, so the log shows the
problem and how often, without drowning.
"""

from __future__ import annotations

import logging
from collections import Counter


class ProblemCounter(Counter[str]):
    def note(self, kind: str, logger: logging.Logger, message: str) -> bool:
        """Count one more `kind`; log `message` if this occurrence is a power of two.
        Returns whether it was logged."""
        self[kind] += 1
        count = self[kind]
        if count & (count - 1):
            return False
        logger.warning("%s (%d so far)", message, count)
        return True
