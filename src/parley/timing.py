"""Per-turn timing records: when each stage of a turn happened, on the session's clock.

All times are seconds on the event loop's monotonic clock (`loop.time()`), so they compare
with each other and, in tests, run on the virtual clock. See DESIGN.md, "Measurements".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal


def now() -> float:
    """The session clock: the running loop's time, so tests on looptime's virtual clock see
    virtual time. Every timestamp a session, its output or a transport records comes from it."""
    return asyncio.get_running_loop().time()


TurnStatus = Literal["open", "completed", "interrupted", "failed", "hangup"]

# The stages of a turn in the order they normally happen; `summary()` prints them this way.
STAGES: tuple[str, ...] = (
    "speech_started",
    "speech_start_decided",
    "speech_ended",
    "endpoint_decided",
    "stt_final",
    "committed",
    "llm_first_token",
    "tts_first_audio",
    "first_audio_out",
    "interruption_decided",
    "output_stopped",
    "ended",
)


@dataclass(slots=True)
class TurnTimings:
    """One user turn and the agent response that answered it.

    speech_started: onset of the person's speech (first voiced audio).
    speech_start_decided: when the VAD declared it (onset + VAD delay).
    speech_ended: the last voiced audio of the turn.
    endpoint_decided: when the turn-ending silence was complete.
    stt_final: arrival of the last final transcript of the turn.
    committed: the turn was handed to the LLM.
    llm_first_token / tts_first_audio: first output of each provider for this response.
    first_audio_out: first agent frame handed to the transport.
    interruption_decided: the person's words were judged a real interruption.
    output_stopped: agent audio stopped because the person spoke or hung up.
    ended: the response finished, was interrupted, failed or the call ended.
    turn_verdict: the turn detector's last answer in the turn: complete, incomplete, failed,
        or asked (no answer in time); None without a detector.
    preemptive: the response was started before the turn was confirmed (a preemptive answer,
        held until then), so llm_first_token and tts_first_audio may precede `committed`.
    preemptive_dropped: preemptive answers started during this turn and dropped unheard
        (the person went on, or the words changed).
    tool_calls / tool_seconds: functions the model called for this response, and the time
    spent waiting for them (rounds summed; the calls of one round run together).
    """

    response_id: str
    user_text: str = ""
    status: TurnStatus = "open"
    pauses: int = 0
    speech_started: float | None = None
    speech_start_decided: float | None = None
    speech_ended: float | None = None
    endpoint_decided: float | None = None
    stt_final: float | None = None
    committed: float | None = None
    llm_first_token: float | None = None
    tts_first_audio: float | None = None
    first_audio_out: float | None = None
    interruption_decided: float | None = None
    output_stopped: float | None = None
    ended: float | None = None
    turn_verdict: str | None = None
    preemptive: bool = False
    preemptive_dropped: int = 0
    tool_calls: int = 0
    tool_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def voice_to_voice(self) -> float | None:
        """End of the person's speech to the first agent frame out (DESIGN.md)."""
        if self.speech_ended is None or self.first_audio_out is None:
            return None
        return self.first_audio_out - self.speech_ended

    def summary(self) -> str:
        """One log line: each stage as milliseconds after the end of speech (or the start)."""
        origin = self.speech_ended if self.speech_ended is not None else self.committed
        parts = [f"turn {self.response_id} {self.status}"]
        v2v = self.voice_to_voice
        parts.append(f"v2v={_ms(v2v)}" if v2v is not None else "v2v=-")
        for stage in STAGES:
            value = getattr(self, stage)
            if value is not None and origin is not None:
                parts.append(f"{stage}={_ms(value - origin, signed=True)}")
        if self.pauses:
            parts.append(f"pauses={self.pauses}")
        if self.turn_verdict is not None:
            parts.append(f"turn={self.turn_verdict}")
        if self.preemptive:
            parts.append("preemptive")
        if self.preemptive_dropped:
            parts.append(f"preemptive_dropped={self.preemptive_dropped}")
        if self.tool_calls:
            parts.append(f"tools={self.tool_calls}/{_ms(self.tool_seconds)}")
        parts.extend(self.notes)
        return " ".join(parts)


def _ms(seconds: float, *, signed: bool = False) -> str:
    value = round(seconds * 1000)
    return f"{value:+d}ms" if signed else f"{value}ms"
