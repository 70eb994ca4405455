"""Settings of the scripted fakes (the `fake` section of the root Settings)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class FakeProviderSettings(BaseModel):
    """Latencies of the scripted fakes when chosen by name (demos, load tests, benchmarks)."""

    model_config = ConfigDict(extra="forbid")

    stt_transcript: str = Field(
        "hello there", description="What the fake STT hears in every voiced segment."
    )
    stt_final_latency_ms: int = Field(150, ge=0)
    stt_partial_interval_ms: int | None = Field(250, ge=10)
    turn_probability: float = Field(
        0.9, ge=0.0, le=1.0, description="What the fake turn detector always answers."
    )
    turn_latency_ms: int = Field(50, ge=0, description="How long the fake turn detector takes.")
    llm_first_token_ms: int = Field(200, ge=0)
    llm_token_ms: int = Field(20, ge=0)
    llm_replies: list[str] = Field(
        default_factory=list, description="Replies in order; when empty, echo the person."
    )
    llm_replies_cycle: bool = Field(
        False, description="Start the replies over once all were used (instead of echoing)."
    )
    llm_hang_after_tokens: int | None = Field(
        None,
        ge=0,
        description="Every reply stops after this many tokens and never ends until cancelled "
        "(a hung provider); None: never.",
    )
    llm_close_delay_ms: int = Field(
        0, ge=0, description="How long closing a reply cut short takes (a slow provider close)."
    )
    tts_first_byte_ms: int = Field(50, ge=0)
    tts_chunk_ms: int = Field(10, ge=0, description="Latency of each further 100 ms chunk.")
    tts_word_ms: int = Field(250, ge=10, description="Audio length of each word.")
    tts_sample_rate: int = 16000
    tts_hang_after_chunks: int | None = Field(
        None,
        ge=0,
        description="Every synthesis stops after this many chunks and never ends until "
        "cancelled (a hung provider); None: never.",
    )
    tts_close_delay_ms: int = Field(
        0,
        ge=0,
        description="How long closing a TTS stream takes (10000: a websocket close that waits "
        "out its timeout).",
    )
