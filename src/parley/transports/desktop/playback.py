"""The speaker's buffer, shared by the event loop (writes, clears) and the audio thread (reads).

The audio thread takes one block per callback; a clear empties the buffer at once, so after
it at most the block already handed to the device plays (invariant 2: one block, 20 ms).
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

from parley.desktop.devices import Samples


class SpeakerBuffer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: deque[Samples] = deque()
        self._head = 0  # samples of the first chunk already played
        self._muted = False
        self.underruns = 0  # blocks that wanted audio and found the buffer short

    def write(self, samples: Samples) -> None:
        with self._lock:
            if not self._muted:
                self._chunks.append(samples)

    def clear(self) -> None:
        with self._lock:
            self._chunks.clear()
            self._head = 0

    def mute(self) -> None:
        """Clear, and take no more audio (hangup): nothing can slip in after the key."""
        with self._lock:
            self._muted = True
            self._chunks.clear()
            self._head = 0

    def buffered(self) -> int:
        with self._lock:
            return sum(len(c) for c in self._chunks) - self._head

    def fill(self, out: Samples) -> None:
        """Fill `out` (the device's block) with what is buffered, silence after it."""
        filled = 0
        with self._lock:
            while filled < len(out) and self._chunks:
                chunk = self._chunks[0]
                take = min(len(out) - filled, len(chunk) - self._head)
                out[filled : filled + take] = chunk[self._head : self._head + take]
                filled += take
                self._head += take
                if self._head == len(chunk):
                    self._chunks.popleft()
                    self._head = 0
            if 0 < filled < len(out):
                self.underruns += 1
        out[filled:] = np.int16(0)
