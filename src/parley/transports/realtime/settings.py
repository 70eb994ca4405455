"""The Realtime API endpoint's section of the settings (`[realtime]`); parley.settings
composes it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RealtimeEndpointSettings(BaseModel):
    """The OpenAI Realtime API-compatible endpoint, `WS /v1/realtime` (docs/realtime.md)."""

    model_config = ConfigDict(extra="forbid")

    max_message_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Larger messages are refused with an error event (60 s of 24 kHz pcm16 "
        "as base64 is about 3.8 MB). Messages over 16 MiB close the connection.",
    )
    max_buffer_s: float = Field(
        120.0,
        gt=0,
        le=600,
        description="Longest audio a manual-turn buffer (turn_detection null) or an audio "
        "item may hold; appends past it are refused with an error event.",
    )
    max_messages_per_second: int = Field(
        1000,
        ge=10,
        description="Past this many messages in one second the endpoint stops reading until "
        "the second is over (nothing is dropped) and tells the client once with an error "
        "event. Streaming 20 ms audio chunks is 50 a second.",
    )
