"""The conversation's working state: the person's words not yet answered, the response."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from parley.types import TimedWord

CancelReason = Literal["interrupted", "cancelled"]


@dataclass
class UserSpeech:
    """The person's words since their last answered turn."""

    segments: list[str] = field(default_factory=list)
    partial: str = ""
    finals_due: int = 0  # speech segments ended whose complete final has not arrived
    merge_gap_passed: bool = False
    typed: bool = False  # includes typed words: deliberate, never a backchannel

    def text(self, *, with_partial: bool) -> str:
        parts = [*self.segments, self.partial] if with_partial else self.segments
        return " ".join(p for p in parts if p)


@dataclass
class Response:
    """The agent's response in flight."""

    id: str
    words: list[TimedWord] = field(default_factory=list)
    played: float = 0.0
    paused: bool = False
    audible: bool = False
    position_due: bool = False  # paused, and the output has not said where yet
    cancel_when_paused: CancelReason | None = None  # a cancel waiting for the position


@dataclass
class SpokenResponse:
    """A finished response, kept so a client can still truncate it (Realtime API)."""

    id: str
    words: list[TimedWord]
    history_index: int | None  # where its message is in the history, if it has one
