"""What a soak run measured (pydantic; soak.json is the dump), and the figures drawn from it.

RSS growth is measured from the warm level (the mean of the samples around the end of the
warm-up, when every call is up and the allocator has its working set) to the end of the load
(the mean of its last three samples): a server that holds on to something per frame or per
call climbs between the two; one that does not stays flat. After the hang-up, RSS, open fds
and asyncio tasks are compared with the warm level and with the idle server before any call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from parley.benchmarks.results import Distribution, Machine

Phase = Literal["idle", "calls", "after"]
SoakProviders = Literal["fake", "silero", "embedded"]


class SoakSample(BaseModel):
    t: float = Field(description="seconds since the calls started (negative: before)")
    phase: Phase
    rss_mb: float = Field(description="the server process's resident memory")
    children_rss_mb: float = Field(0.0, description="its child processes' (model workers)")
    fds: int
    tasks: int | None = Field(description="asyncio tasks in the server (/metrics)")
    loop_lag_ms: float | None = Field(description="worst event-loop lag since the last sample")
    sessions: int | None
    cpu_percent: float = Field(description="server CPU since the previous sample (100 = a core)")
    load_average: float = Field(description="the machine's 1-minute load average")


class BargeInCause(BaseModel):
    """Barge-ins split by what the caller was hearing at its speech onset."""

    playing: Distribution = Field(description="agent audio was playing at the onset")
    not_playing: Distribution = Field(
        description="it was not (the reply had ended or not yet begun): the first `clear` "
        "after the onset then belongs to something later, not to this speech"
    )
    not_playing_count: int
    without_clear: int
    caller_sent_late: Distribution = Field(
        description="how late the harness sent the frame completing the VAD's minimum speech "
        "(the server cannot decide sooner): a busy harness adds this to the measured delay"
    )
    less_caller_lateness: Distribution = Field(
        description="onset to clear minus that lateness: the server's and the network's part"
    )


class Soak(BaseModel):
    providers: SoakProviders
    calls: int = Field(description="concurrent calls")
    speakers: int | None = Field(None, description="calls that speak; the others stay silent")
    duration_s: float
    warmup_s: float
    interval_s: float
    call_length_cycles: int = Field(description="question + barge-in cycles per call")
    started: str
    machine: Machine
    samples: list[SoakSample]
    idle_rss_mb: float
    warm_rss_mb: float
    end_rss_mb: float
    after_rss_mb: float
    growth_percent: float = Field(description="end of the load vs the warm level")
    after_vs_warm_percent: float = Field(description="after the hang-up vs the warm level")
    slope_mb_per_min: float | None = Field(description="RSS trend after warm-up (least squares)")
    idle_tasks: int | None
    after_tasks: int | None
    idle_fds: int
    after_fds: int
    sessions_after: int | None
    calls_placed: int
    calls_failed: int
    errors: list[str] = Field(description="the first few call errors")
    utterances: int
    answered: int = Field(description="utterances with agent audio within 5 s of their end")
    voice_to_voice: Distribution
    barge_ins: int
    barge_in_to_clear: Distribution
    barge_in_causes: BargeInCause
    outbound_lateness: Distribution = Field(description="outbound frames: arrival after needed")
    caller_lateness_p99_ms: float | None = Field(description="the harness's own send lateness")
    loop_lag_max_ms: float | None
    load_average_mean: float
    heap_trims: int | None = Field(None, description="malloc_trim calls (server/memory.py)")
    heap_trim_longest_ms: float | None = Field(None, description="the longest one")
    heap_trim_released_mb: float | None = Field(None, description="resident memory they freed")
    gc_collections: int | None = Field(None, description="full collections after calls ended "
                                       "(server/collector.py)")  # fmt: skip
    gc_longest_ms: float | None = Field(None, description="the longest one")


def summarize_memory(
    samples: Sequence[SoakSample], warmup_s: float, interval_s: float
) -> tuple[float, float, float, float, float | None]:
    """(idle, warm, end, after) RSS in MB and the slope after warm-up in MB per minute."""
    idle = [s.rss_mb for s in samples if s.phase == "idle"]
    calls = [s for s in samples if s.phase == "calls"]
    after = [s.rss_mb for s in samples if s.phase == "after"]
    near = [s.rss_mb for s in calls if abs(s.t - warmup_s) <= interval_s * 1.01]
    warm = float(np.mean(near)) if near else calls[0].rss_mb
    end = float(np.mean([s.rss_mb for s in calls[-3:]]))
    late = [s for s in calls if s.t >= warmup_s]
    slope = None
    if len(late) >= 3:
        slope = 60 * float(np.polyfit([s.t for s in late], [s.rss_mb for s in late], 1)[0])
    return (idle[-1] if idle else warm), warm, end, (after[-1] if after else end), slope
