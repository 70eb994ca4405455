"""A Realtime session's settings, in neither dialect's words, and what they mean for parley.

`RealtimeConfig` is what session.created / session.updated report (rendered per dialect by
`session_models`). Its turn detection is parley's turn-taking policy seen through the
Realtime API's server VAD (`ServerVAD`, `server_vad_of` and `policy_for` live in
parley.conversation.server_vad, shared with the OpenAI Realtime provider, and are re-exported
here). Everything else in the policy (merge gap, backchannels, timeouts) stays as the server
is configured. `turn_detection` null means manual turns: the client commits and asks.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from parley.conversation.server_vad import ServerVAD as ServerVAD
from parley.conversation.server_vad import policy_for as policy_for
from parley.conversation.server_vad import server_vad_of as server_vad_of
from parley.transports.realtime.formats import AudioFormat


class Transcription(BaseModel):
    """Input transcription as the client asked for it. parley always transcribes with its
    own STT; this only switches the transcription events on (as the API does)."""

    model_config = ConfigDict(frozen=True)

    model: str | None = None
    language: str | None = None
    prompt: str | None = None


class FunctionTool(BaseModel):
    """A function the client offers the model (and runs itself when the model calls it)."""

    model_config = ConfigDict(frozen=True)

    type: Literal["function"] = "function"
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class RealtimeConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    instructions: str
    input_format: AudioFormat = "pcm16"
    output_format: AudioFormat = "pcm16"
    voice: str = "alloy"
    turn_detection: ServerVAD | None
    transcription: Transcription | None = None
    tools: tuple[FunctionTool, ...] = ()
    tool_choice: str = "auto"  # "auto", "none", "required", or the one function's name
    text_only: bool = False  # output_modalities ["text"]: answers in text, no speech
