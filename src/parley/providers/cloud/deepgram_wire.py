"""Deepgram live transcription: the server's messages as pydantic models, and the client's
control messages. Unknown fields are ignored: Deepgram adds fields over time."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Word(_Wire):
    word: str
    start: float
    end: float
    confidence: float = 0.0
    punctuated_word: str | None = None


class Alternative(_Wire):
    transcript: str = ""
    confidence: float = 0.0
    words: list[Word] = []


class Channel(_Wire):
    alternatives: list[Alternative] = []


class Results(_Wire):
    type: Literal["Results"]
    is_final: bool = False
    speech_final: bool = False
    from_finalize: bool = False
    start: float = 0.0
    duration: float = 0.0
    channel: Channel = Channel()

    @property
    def text(self) -> str:
        alternatives = self.channel.alternatives
        return alternatives[0].transcript.strip() if alternatives else ""

    @property
    def end(self) -> float:
        return self.start + self.duration


class UtteranceEnd(_Wire):
    type: Literal["UtteranceEnd"]
    last_word_end: float = 0.0


class SpeechStarted(_Wire):
    type: Literal["SpeechStarted"]
    timestamp: float = 0.0


class Metadata(_Wire):
    type: Literal["Metadata"]
    request_id: str | None = None


class Error(_Wire):
    """What went wrong, sent before the server closes the socket (1011 and others)."""

    type: Literal["Error"]
    description: str = ""
    message: str = ""
    variant: str | None = None

    @property
    def text(self) -> str:
        return self.description or self.message or "unknown error"


ServerMessage = Annotated[
    Results | UtteranceEnd | SpeechStarted | Metadata | Error, Field(discriminator="type")
]
SERVER_MESSAGE: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)

KEEP_ALIVE = '{"type":"KeepAlive"}'
FINALIZE = '{"type":"Finalize"}'
CLOSE_STREAM = '{"type":"CloseStream"}'
