"""The browser transport's section of the settings (`[browser]`); parley.settings composes it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class BrowserSettings(BaseModel):
    """The browser client's websocket, `WS /ws` (docs/protocol.md): limits and audio out."""

    model_config = ConfigDict(extra="forbid")

    max_message_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Larger text messages are refused with an error event (a 60 s utterance "
        "as base64 WAV at 16 kHz is about 2.6 MB). Messages over 16 MiB close the connection.",
    )
    max_frame_bytes: int = Field(
        65_536, ge=256, description="Largest binary audio frame in streaming mode (2 s at 16 kHz)."
    )
    max_utterance_s: float = Field(
        60.0, gt=0, le=600, description="Longest utterance a `speech_end` may carry."
    )
    max_messages_per_second: int = Field(
        250,
        ge=10,
        description="Messages past this many in one second are dropped with an error event "
        "(streaming 20 ms frames plus playback reports is about 100 a second).",
    )
    output_sample_rate: Literal[16000, 22050, 24000, 48000] = Field(
        24000, description="Sample rate of the agent audio sent to the page."
    )
