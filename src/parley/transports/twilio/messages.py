"""Twilio Media Streams wire messages, both directions, as pydantic models.

Field names are snake_case here and camelCase on the wire (aliases). Inbound models ignore
fields they do not know, since Twilio may add some; what they do require is what parley uses.
`sequenceNumber`, `chunk` and `timestamp` are strings on the wire, as Twilio sends them.
"""

from __future__ import annotations

from json.encoder import encode_basestring
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel


class _Wire(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, allow_inf_nan=False
    )


# --- inbound: Twilio -> parley ---------------------------------------------------------------


class MediaFormat(_Wire):
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000
    channels: int = 1


class StreamStart(_Wire):
    stream_sid: str
    account_sid: str
    call_sid: str
    tracks: list[str] = Field(default_factory=lambda: ["inbound"])
    custom_parameters: dict[str, str] = Field(default_factory=dict)
    media_format: MediaFormat = Field(default_factory=MediaFormat)


class Connected(_Wire):
    event: Literal["connected"]
    protocol: str = "Call"
    version: str = "1.0.0"


class Start(_Wire):
    event: Literal["start"]
    sequence_number: str | None = None
    stream_sid: str
    start: StreamStart


class InboundMedia(_Wire):
    track: str = "inbound"
    chunk: str | None = None
    timestamp: str | None = None
    payload: str


class Media(_Wire):
    event: Literal["media"]
    sequence_number: str | None = None
    stream_sid: str
    media: InboundMedia


class MarkName(_Wire):
    name: str


class Mark(_Wire):
    event: Literal["mark"]
    sequence_number: str | None = None
    stream_sid: str
    mark: MarkName


class DtmfDigitInfo(_Wire):
    track: str = "inbound_track"
    digit: str = Field(pattern=r"^[0-9*#A-D]$")


class Dtmf(_Wire):
    event: Literal["dtmf"]
    sequence_number: str | None = None
    stream_sid: str
    dtmf: DtmfDigitInfo


class StreamStop(_Wire):
    account_sid: str | None = None
    call_sid: str | None = None


class Stop(_Wire):
    event: Literal["stop"]
    sequence_number: str | None = None
    stream_sid: str
    stop: StreamStop = Field(default_factory=StreamStop)


InboundMessage = Annotated[
    Connected | Start | Media | Mark | Dtmf | Stop, Field(discriminator="event")
]
# Only keys go in pydantic-core's process-wide JSON string cache: cached values (every call's
# SIDs, every frame's sequence number, chunk and timestamp) stayed held after the calls ended.
INBOUND = TypeAdapter[InboundMessage](InboundMessage, config=ConfigDict(cache_strings="keys"))
INBOUND_EVENTS = frozenset({"connected", "start", "media", "mark", "dtmf", "stop"})


# --- outbound: parley -> Twilio --------------------------------------------------------------


class OutboundPayload(_Wire):
    payload: str


class OutboundMedia(_Wire):
    event: Literal["media"] = "media"
    stream_sid: str
    media: OutboundPayload


class OutboundMark(_Wire):
    event: Literal["mark"] = "mark"
    stream_sid: str
    mark: MarkName


class Clear(_Wire):
    event: Literal["clear"] = "clear"
    stream_sid: str


def to_wire(message: _Wire) -> str:
    """The JSON text of a message, camelCase as Twilio spells it."""
    return message.model_dump_json(by_alias=True, exclude_none=True)


class OutboundEncoder:
    """`media` and `mark` messages of one stream as the models above write them, from
    templates: two messages per 20 ms frame of every call, and the models' validation and
    serialisation cost about 25 times the template's (see docs/benchmarks.md). The tests
    hold the two to the same text."""

    def __init__(self, stream_sid: str) -> None:
        self.stream_sid = stream_sid
        sid = encode_basestring(stream_sid)
        self._media = '{"event":"media","streamSid":' + sid + ',"media":{"payload":"'
        self._mark = '{"event":"mark","streamSid":' + sid + ',"mark":{"name":'

    def media(self, payload: str) -> str:
        """`payload` is base64, which JSON needs no escapes for."""
        return self._media + payload + '"}}'

    def mark(self, name: str) -> str:
        return self._mark + encode_basestring(name) + "}}"
