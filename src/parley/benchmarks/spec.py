"""What a benchmark server runs, and the fake providers' stated latencies.

The harness writes one `ServerSpec` as JSON per server process. Both servers build their
providers from the same `FakeProviderSettings` with parley's factories, and take their
turn-taking settings from the same `TurnTakingPolicy`: Pipecat's Silero VAD and turn-stop
strategy are set to parley's threshold, start delay, silence and merge gap (`pipecat_server`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from parley.conversation.policy import TurnTakingPolicy
from parley.settings import Settings
from parley.testing.fakes.config import FakeProviderSettings

Framework = Literal["parley", "pipecat"]
FRAMEWORKS: tuple[Framework, ...] = ("parley", "pipecat")

# Every voiced segment is heard as this: real words, not a backchannel, so speech over the
# agent interrupts it in both frameworks.
HEARD = "tell me more about that please"


class Latencies(BaseModel):
    """The fake providers' stated latencies, the same for both frameworks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stt_final_ms: int = Field(150, ge=0, description="Speech end hint to final transcript.")
    llm_first_token_ms: int = Field(200, ge=0)
    llm_token_ms: int = Field(20, ge=0, description="Each further token.")
    tts_first_byte_ms: int = Field(50, ge=0, description="Text to the first audio chunk.")
    tts_chunk_ms: int = Field(10, ge=0, description="Each further 100 ms chunk.")
    tts_word_ms: int = Field(250, ge=10, description="Audio length of each word.")

    def fake_settings(self, replies: list[str], **faults: Any) -> FakeProviderSettings:
        """The fakes with these latencies, answering `replies` in turn (over and over)."""
        return FakeProviderSettings(
            stt_transcript=HEARD,
            stt_final_latency_ms=self.stt_final_ms,
            llm_first_token_ms=self.llm_first_token_ms,
            llm_token_ms=self.llm_token_ms,
            llm_replies=replies,
            llm_replies_cycle=True,
            tts_first_byte_ms=self.tts_first_byte_ms,
            tts_chunk_ms=self.tts_chunk_ms,
            tts_word_ms=self.tts_word_ms,
            **faults,
        )

    def first_sentence_ms(self, reply: str) -> float:
        """How long the fake LLM takes to produce the first sentence of `reply`."""
        words = reply.split()
        first = next((i for i, w in enumerate(words) if w.endswith((".", "!", "?"))), 0)
        return self.llm_first_token_ms + first * self.llm_token_ms


class ServerSpec(BaseModel):
    """One server process: which framework, where, and with which providers."""

    model_config = ConfigDict(extra="forbid")

    framework: Framework
    port: int
    events: Path = Field(description="JSON lines file the server appends its events to.")
    providers: Literal["fake", "embedded"] = "fake"
    vad: Literal["silero", "energy"] = "silero"  # energy: the loudness fake (soak --fake)
    fake: FakeProviderSettings = Field(default_factory=FakeProviderSettings)
    policy: TurnTakingPolicy = Field(default_factory=TurnTakingPolicy)
    instructions: str | None = None
    llama_max_tokens: int | None = None
    log_level: str = "WARNING"
    records: Path | None = Field(
        None,
        description="parley keeps call records (SQLite) in this folder; None: records off "
        "(Pipecat keeps none; `parley bench --records` measures what they cost).",
    )
    workers: int = Field(1, ge=1, description="parley serve --workers (parley only)")
    max_sessions: int | None = Field(None, ge=1, description="admission.max_sessions (parley)")
    max_loop_lag_s: float | None = Field(
        None, gt=0, description="admission.max_loop_lag_s (parley; None: capacity is measured "
        "without admission control)",
    )  # fmt: skip

    def parley_settings(self) -> Settings:
        """parley's settings for this spec: Silero VAD (or the loudness fake), the fakes (or
        the embedded stack)."""
        session: dict[str, Any] = {"policy": self.policy.model_dump()}
        if self.instructions is not None:
            session["instructions"] = self.instructions
        config: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "vad": self.vad,
            "session": session,
            "fake": self.fake.model_dump(),
            "records": {"enabled": self.records is not None, "data_dir": str(self.records or ".")},
            "workers": self.workers,
            "admission": {
                "max_sessions": self.max_sessions,
                "max_loop_lag_s": self.max_loop_lag_s,
            },
        }
        if self.providers == "fake":
            config.update(stt="fake", llm="fake", tts="fake")
        if self.llama_max_tokens is not None:
            config["llama"] = {"max_tokens": self.llama_max_tokens}
        return Settings.model_validate(config)
