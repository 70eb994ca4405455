"""Small value types shared by the conversation, the providers and the transports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of the chat history.

    `interrupted` marks an assistant message that was cut to what the person actually heard
    (invariant 4); adapters may tell the model so, to stop it repeating itself.
    """

    role: Role
    content: str
    interrupted: bool = False


@dataclass(frozen=True, slots=True)
class TimedWord:
    """A word of agent speech and where it sits in the audio, in seconds.

    Times are relative to the start of the audio they were reported with: a TTS chunk reports
    them relative to itself; the responder rebases them onto the whole response.
    """

    text: str
    start: float
    end: float

    def shifted(self, offset: float) -> TimedWord:
        return TimedWord(self.text, self.start + offset, self.end + offset)
