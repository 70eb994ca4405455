"""The conversation's working state: the person's words not yet answered, the response."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from parley.types import TimedWord

CancelReason = Literal["interrupted", "cancelled"]


class Phase(StrEnum):
    """Where the conversation is, as a person would say it. Derived from the machine's state
    (`Conversation.phase`), never stored; docs/turn-taking.md draws the transitions."""

    IDLE = "idle"  # nobody speaks, nothing is pending
    LISTENING = "listening"  # the person speaks (or keys an entry); no response is running
    WAITING = "waiting"  # the person is silent; their turn waits for transcripts or the merge gap
    THINKING = "thinking"  # a response started and none of its audio has played yet
    SPEAKING = "speaking"  # the response's audio is playing
    PAUSED = "paused"  # speech (or a key) paused the response: backchannel or interruption?
    ENDING = "ending"  # the call is hanging up


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
