"""What a benchmark run measured, as pydantic models: the JSON report is their dump.

Durations are in milliseconds. Every distribution keeps its sample count, so a p99 over
eight samples reads as what it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from parley.benchmarks.spec import Framework, Latencies
from parley.conversation.policy import TurnTakingPolicy


class Distribution(BaseModel):
    n: int
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None

    @classmethod
    def of_seconds(cls, values: Sequence[float | None]) -> Distribution:
        """The distribution of `values` (seconds; None entries are left out), in ms."""
        kept = [1000 * v for v in values if v is not None]
        if not kept:
            return cls(n=0)
        p50, p95, p99 = (float(x) for x in np.percentile(kept, [50, 95, 99]))
        return cls(n=len(kept), p50=p50, p95=p95, p99=p99, max=max(kept))


class BargeIn(BaseModel):
    """Onset of the caller's interrupting speech (its first voiced sample) to the first
    `clear` the caller received, and to the end of the old response's audio it heard."""

    to_clear: Distribution
    to_last_heard: Distribution
    without_clear: int = Field(description="barge-ins that got no clear at all")
    error: str | None = None


class InputGap(BaseModel):
    """One call whose fake TTS takes `close_hang_s` to close: barged in on, it must close."""

    close_hang_s: float
    max_gap_ms: float | None = Field(description="longest gap between frames reaching STT")
    stt_frames: int
    caller_max_send_gap_ms: float | None = Field(description="the caller's own longest gap")
    barge_in_to_clear_ms: float | None
    answer_after_barge_in_ms: float | None = Field(
        description="end of the interrupting speech to the first audio of the answer"
    )
    error: str | None = None


class Hangup(BaseModel):
    """Caller's `stop` to the server's session fully closed, with the LLM and the TTS hung
    mid-response and each taking `close_hang_s` to close."""

    close_hang_s: float
    closed: Distribution
    not_closed: int = Field(description="calls with no close reported within the wait")
    waited_s: float
    error: str | None = None


class Overhead(BaseModel):
    """Voice-to-voice minus what the providers and the turn-taking silence take."""

    stated_ms: float = Field(description="silence + max(merge gap, STT) + LLM + TTS")
    voice_to_voice: Distribution
    overhead: Distribution
    error: str | None = None


class CapacityLevel(BaseModel):
    calls: int
    lateness: Distribution = Field(description="outbound frames: arrival after needed")
    answered: int
    utterances: int
    voice_to_voice: Distribution
    peak_rss_mb: float
    rss_before_mb: float
    cpu_percent: float = Field(description="server process CPU over the level (100 = a core)")
    caller_lateness_p99_ms: float | None = Field(description="the harness's own send lateness")
    errors: int
    smooth: bool
    passed: bool
    harness_limited: bool = Field(
        description="the callers' own p99 send lateness passed the limit: the harness, "
        "sharing the machine, ran short of CPU, so this level says little about the server"
    )


class Capacity(BaseModel):
    criterion: str
    levels: list[CapacityLevel]
    capacity: int = Field(description="most concurrent calls that passed (0: none did)")
    lower_bound: bool = Field(
        description="the server may take more: every level passed, or the one that failed "
        "was limited by the harness"
    )
    memory_per_call_mb: float | None = Field(
        description="server RSS each additional call takes: (peak RSS at the highest level "
        "that passed in the rising sweep - at the lowest level) / (the difference in calls)"
    )
    idle_rss_mb: float
    workers: int = Field(1, description="session processes (parley serve --workers)")


class Overload(BaseModel):
    """Offered more calls than the capacity, with admission control at the capacity: the
    accepted calls must stay smooth and answered, the rest be refused fast."""

    capacity: int = Field(description="the capacity admission was set to (the node's calls)")
    workers: int
    max_sessions: int = Field(description="admission.max_sessions per worker")
    offered: int
    accepted: int
    refused_webhook: int
    refused_stream: int
    lateness: Distribution = Field(description="accepted calls' outbound frame lateness")
    answered: int = Field(description="accepted calls' questions answered in time")
    utterances: int
    refusal: Distribution = Field(description="ms to a refusal")
    passed: bool
    error: str | None = None


class FrameworkResults(BaseModel):
    framework: Framework
    version: str
    barge_in: BargeIn | None = None
    input_gap: InputGap | None = None
    hangup: Hangup | None = None
    overhead: Overhead | None = None
    capacity: Capacity | None = None
    capacity_workers: list[Capacity] = Field(
        default_factory=list, description="capacity at each further --workers count (parley)"
    )
    overload: Overload | None = None


class Embedded(BaseModel):
    """parley with the embedded models (Silero, Whisper, llama.cpp, Piper) over Twilio."""

    turns: int
    voice_to_voice: Distribution
    per_turn_ms: list[float | None]
    stages_p50_ms: dict[str, float]
    models: dict[str, str]
    error: str | None = None


class Machine(BaseModel):
    cpu: str
    cores: int
    memory_gb: float
    system: str
    python: str


class BenchReport(BaseModel):
    mode: str
    started: str
    duration_s: float
    machine: Machine
    latencies: Latencies
    policy: dict[str, Any]
    notes: list[str]
    results: dict[str, FrameworkResults]
    embedded: Embedded | None = None

    @staticmethod
    def policy_summary(policy: TurnTakingPolicy) -> dict[str, Any]:
        keep = ("vad_threshold", "min_interruption_ms", "min_silence_ms", "merge_gap_ms")
        summary = {k: getattr(policy, k) for k in keep}
        # Settings changed from the defaults (`--policy`) are named too, so a report says
        # which turn-taking it measured.
        changed = policy.model_dump(exclude_defaults=True)
        return summary | {k: v for k, v in changed.items() if k not in summary}
