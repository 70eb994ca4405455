"""Audio taps: synchronous observers of the audio a call carries, for recordings.

A tap sees the caller's frames as they arrive and the agent's frames as the playout
scheduler lays them on the listener's timeline, and hears when unplayed agent audio was
cleared. Every call is synchronous and must return at once (a tap hands the audio to a
thread of its own, never awaits; invariants 1 and 13). With no tap attached the session
pays one empty-list test per frame. A tap that raises is logged and ignored: a recording
never costs the call its audio.
"""

from __future__ import annotations

import logging
from typing import Protocol

from parley.audio.frames import AudioFrame
from parley.problems import ProblemCounter

log = logging.getLogger("parley.session")


class AudioTap(Protocol):
    def caller_audio(self, end: float, frame: AudioFrame) -> None:
        """The caller's `frame`, whose last sample arrived at `end` (session clock)."""

    def agent_audio(self, start: float, frame: AudioFrame) -> None:
        """The agent's `frame`, which starts playing at `start` (session clock; at most the
        scheduler's lookahead ahead of now, so it may still be cleared)."""

    def agent_cleared(self, at: float) -> None:
        """Agent audio laid on the timeline after `at` was dropped unplayed."""


class AudioTaps(list[AudioTap]):
    """The taps of one session; the session and its output scheduler share this list."""

    def __init__(self) -> None:
        super().__init__()
        self._failures = ProblemCounter()

    def caller_audio(self, end: float, frame: AudioFrame) -> None:
        for tap in self:
            try:
                tap.caller_audio(end, frame)
            except Exception:
                self._failed(tap)

    def agent_audio(self, start: float, frame: AudioFrame) -> None:
        for tap in self:
            try:
                tap.agent_audio(start, frame)
            except Exception:
                self._failed(tap)

    def agent_cleared(self, at: float) -> None:
        for tap in self:
            try:
                tap.agent_cleared(at)
            except Exception:
                self._failed(tap)

    def _failed(self, tap: AudioTap) -> None:
        if self._failures.due(type(tap).__name__) is not None:
            log.exception("an audio tap (%s) failed; the call goes on", type(tap).__name__)
