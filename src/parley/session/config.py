"""Settings of one session: the agent's instructions, output pacing, deadlines, turn-taking."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import LLM, STT, TTS, VAD, TurnDetector
from parley.providers.scope import SessionScope

DEFAULT_INSTRUCTIONS = (
    "You are a helpful voice assistant on a live call. Your words are spoken aloud, so "
    "answer in one to three short spoken sentences. Never use markdown, lists, emoji or "
    "symbols that cannot be read aloud. If you were interrupted, do not repeat yourself: "
    "answer what the person said."
)


class SessionConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    instructions: str = Field(DEFAULT_INSTRUCTIONS, description="The system prompt.")
    policy: TurnTakingPolicy = Field(default_factory=TurnTakingPolicy)
    close_deadline_s: float = Field(
        2.0, gt=0, le=30, description="How long providers may take to close before abandoned."
    )
    output_frame_ms: int = Field(20, ge=10, le=60, description="Size of outbound audio frames.")
    output_lookahead_ms: int = Field(
        100,
        ge=20,
        le=200,
        description="How far ahead of the listener's playhead audio is sent: enough to ride "
        "out network jitter, small enough that a clear finds almost nothing to drop.",
    )


@dataclass(frozen=True, slots=True)
class Providers:
    vad: VAD
    stt: STT
    llm: LLM
    tts: TTS
    turn: TurnDetector | None = None  # used when the policy names it (turn_detector)

    def for_session(self, scope: SessionScope) -> Providers:
        """The providers as one session uses them: the shared ones as they are, and views
        bound to per-call state for those that keep some (Provider.for_session)."""
        return Providers(
            self.vad.for_session(scope),
            self.stt.for_session(scope),
            self.llm.for_session(scope),
            self.tts.for_session(scope),
            self.turn.for_session(scope) if self.turn is not None else None,
        )
