"""The caller's side of Twilio's playback buffer, simulated: what a person would hear.

Audio plays in arrival order, back to back, each chunk for its duration, starting no earlier
than it arrived. A mark is due once everything queued before it has played. A clear empties
the buffer at once: the chunk playing is cut at the current sample, queued chunks are never
heard, and the marks still pending are handed back (Twilio echoes them on a clear). Every
chunk keeps its arrival and play times, so what was heard, and when, can be measured.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from parley.audio.frames import SAMPLE_WIDTH


@dataclass(slots=True)
class PlayedChunk:
    """Agent audio as the caller got it: when it arrived, when it (would) start playing."""

    received: float
    start: float
    pcm: bytes  # PCM16 at the buffer's rate; cut short if a clear stopped it mid-way
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.pcm) / SAMPLE_WIDTH / self.sample_rate

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class _PendingMark:
    due: float
    name: str


@dataclass(frozen=True, slots=True)
class ClearRecord:
    at: float
    dropped_seconds: float  # queued audio the clear took away, never heard
    pending_marks: int


class CallerPlayback:
    def __init__(self, sample_rate: int = 8000) -> None:
        self.sample_rate = sample_rate
        self.chunks: list[PlayedChunk] = []  # everything scheduled, minus what clears took
        self.clears: list[ClearRecord] = []
        self._marks: deque[_PendingMark] = deque()
        self._free_at = 0.0  # when the last queued audio ends

    def add_audio(self, now: float, pcm: bytes) -> PlayedChunk:
        chunk = PlayedChunk(now, max(now, self._free_at), pcm, self.sample_rate)
        self.chunks.append(chunk)
        self._free_at = chunk.end
        return chunk

    def add_mark(self, now: float, name: str) -> None:
        self._marks.append(_PendingMark(max(now, self._free_at), name))

    def next_mark_due(self) -> float | None:
        return self._marks[0].due if self._marks else None

    def due_marks(self, now: float) -> list[str]:
        """Marks whose audio has finished playing by `now`, in order (removed)."""
        due: list[str] = []
        while self._marks and self._marks[0].due <= now:
            due.append(self._marks.popleft().name)
        return due

    def clear(self, now: float) -> list[str]:
        """Empty the buffer at `now`; returns the marks that were still pending."""
        dropped = 0.0
        kept: list[PlayedChunk] = []
        for chunk in self.chunks:
            if chunk.end <= now:
                kept.append(chunk)
            elif chunk.start < now:  # playing: cut at the current sample
                played = int((now - chunk.start) * self.sample_rate) * SAMPLE_WIDTH
                dropped += chunk.duration
                chunk.pcm = chunk.pcm[:played]
                dropped -= chunk.duration
                kept.append(chunk)
            else:
                dropped += chunk.duration
        self.chunks = kept
        self._free_at = now
        pending = [m.name for m in self._marks]
        self._marks.clear()
        self.clears.append(ClearRecord(now, dropped, len(pending)))
        return pending

    # Chunks are in time order and never overlap, so the scans below stop early: a caller
    # checks these every frame, and a benchmark runs many callers for minutes.

    def playing(self, now: float) -> bool:
        """Is agent audio playing at `now`?"""
        for chunk in reversed(self.chunks):
            if chunk.end <= now:
                return False
            if chunk.start <= now:
                return True
        return False

    def idle_since(self, now: float) -> float:
        """How long nothing has been playing (0 while audio plays)."""
        if not self.chunks:
            return float("inf")
        return max(0.0, now - self.chunks[-1].end)

    def heard_seconds(self, now: float, since: float = float("-inf")) -> float:
        """Seconds of agent audio heard between `since` and `now`."""
        total = 0.0
        for chunk in reversed(self.chunks):
            if chunk.end <= since:
                break
            total += max(0.0, min(chunk.end, now) - max(chunk.start, since))
        return total

    def heard_audio(self, now: float, since: float = float("-inf")) -> npt.NDArray[np.int16]:
        """The samples heard between `since` and `now`, in order (gaps left out)."""
        pieces = []
        for chunk in self.chunks:
            start, end = max(chunk.start, since), min(chunk.end, now)
            if end <= start:
                continue
            first = round((start - chunk.start) * self.sample_rate)
            last = round((end - chunk.start) * self.sample_rate)
            pieces.append(np.frombuffer(chunk.pcm, dtype="<i2")[first:last])
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)

    def first_heard_after(self, moment: float) -> float | None:
        """When audio first played at or after `moment` (None: none did)."""
        starts = [max(c.start, moment) for c in self.chunks if c.end > moment and c.duration > 0]
        return min(starts) if starts else None
