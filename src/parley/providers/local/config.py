"""Settings of the embedded providers (light: importing this loads no model library)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class WhisperSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Literal["tiny.en", "base"] = Field(
        "tiny.en",
        description="tiny.en is fast; base (multilingual, run in English) is more "
        "accurate and about twice as slow.",
    )
    threads: int = Field(2, ge=1, le=64)
    beam_size: int = Field(1, ge=1, le=10)
    speculation_ms: int | None = Field(
        150,
        ge=0,
        description="Quiet before transcribing speculatively, inside the turn-"
        "ending silence; None turns speculation off.",
    )
    paused_partial_ms: int | None = Field(
        200,
        ge=0,
        description="While the person's speech has paused the agent: speech before the "
        "first partial transcript (the audio so far, transcribed at once), so a backchannel "
        "resumes and other words interrupt without waiting for the final; None turns these "
        "partials off.",
    )
    paused_partial_interval_ms: int = Field(
        300, ge=50, description="Between the starts of later partials (one run at a time)."
    )
    cache_dir: Path | None = Field(None, description="Where Whisper base is assembled once.")


class LlamaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_path: Path | None = Field(None, description="A GGUF file; default SmolLM2-135M.")
    threads: int = Field(2, ge=1, le=64)
    context_tokens: int = Field(2048, ge=256)
    max_tokens: int = Field(64, ge=8, description="Longest reply, in tokens (about 45 words).")
    temperature: float = Field(0.6, ge=0.0, le=2.0)


class PiperSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_path: Path | None = Field(None, description="A Piper .onnx voice; default en_US joe.")
    threads: int = Field(2, ge=1, le=64)
    length_scale: float | None = Field(None, gt=0, description="Speaking rate: above 1 is slower.")


class SmartTurnSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_path: Path | None = Field(
        None,
        description="A Smart Turn v3 .onnx file; default the v3.2 CPU model that the "
        "pipecat-ai package carries (installed without its dependencies).",
    )
    threads: int = Field(1, ge=1, le=64, description="onnxruntime intra-op threads.")
