"""Capacity: the most concurrent calls for which outbound audio stays smooth and every call
is answered, and the server's memory per call.

One server; levels of N simultaneous callers (starts spread over a second; the callers run in
processes of their own, `caller_processes`), each asking
`capacity_turns` questions and listening to each answer. A level passes when the p99
lateness of outbound frames (how long after the listener needed a frame it arrived) is under
one frame period and every question got audio back within `ANSWER_WITHIN`. The levels rise
until one fails; then up to `capacity_refine` levels halve the gap to the last that passed.
Resident memory and CPU time of the server process are sampled while each level runs; memory
per call is the slope of the peak between the lowest level and the highest that passed
(`memory_per_call`). The callers share the machine with the server, so their own send
lateness is reported beside each level, and a level where they fell behind says little about
the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Sequence

import numpy as np

from parley.benchmarks.caller import OTHER_QUESTION, QUESTION, BenchCaller, clip
from parley.benchmarks.caller_processes import (
    ANSWER_WITHIN,
    CallOutcome,
    Job,
    run_in_processes,
    start_time,
)
from parley.benchmarks.plan import Setup
from parley.benchmarks.process import ServerProcess
from parley.benchmarks.results import Capacity, CapacityLevel, Distribution
from parley.benchmarks.scenarios import place
from parley.testing.twilio_caller.fake_caller import (
    CallerStep,
    HangUp,
    Pause,
    Speak,
    WaitFor,
    agent_finished,
)

# 22 words: 5.5 s of speech that has to stay smooth
REPLY = (
    "Sure thing. It is nine in the evening in Tokyo right now, and the city lights are on "
    "all along the river."
)
SMOOTH_MS = 20.0  # p99 lateness must stay under one frame period
MB = 1024 * 1024
Progress = Callable[[str], None]


def script(stagger: float, turns: int) -> list[CallerStep]:
    steps: list[CallerStep] = [Pause(0.3 + stagger)]
    for turn in range(turns):
        steps += [
            Speak(clip((QUESTION, OTHER_QUESTION)[turn % 2]), f"turn {turn}"),
            WaitFor(agent_finished(0.5), limit=20, what="the answer"),
        ]
    return [*steps, HangUp()]


async def capacity(
    setup: Setup, progress: Progress, max_calls: int | None = None, workers: int = 1
) -> Capacity:
    """`workers`: parley's session processes (`parley serve --workers`); Pipecat has one."""
    fake = setup.latencies.fake_settings([REPLY])
    levels: list[CapacityLevel] = []
    workers = workers if setup.framework == "parley" else 1
    name = "capacity" if workers == 1 else f"capacity-{workers}w"
    async with setup.serve(name, fake, workers=workers) as server:
        await asyncio.sleep(1.0)  # let start-up settle before the idle reading
        idle = server.rss_bytes()

        async def run(calls: int) -> CapacityLevel:
            level = await _level(server, calls, setup.plan.capacity_turns)
            levels.append(level)
            who = setup.framework + (f" ({workers} workers)" if workers > 1 else "")
            progress(
                f"{who}: {calls} calls: p99 lateness {_ms(level.lateness.p99)}, "
                f"answered {level.answered}/{level.utterances}, CPU {level.cpu_percent:.0f}%, "
                f"RSS {level.peak_rss_mb:.0f} MB"
                + (" (the callers fell behind)" if level.harness_limited else "")
            )
            return level

        rising: list[CapacityLevel] = []  # the levels that passed, in rising order
        failed: CapacityLevel | None = None
        for calls in setup.plan.capacity_levels:
            if max_calls is not None and calls > max_calls:
                break
            level = await run(calls)
            if not level.passed:
                failed = level
                break
            rising.append(level)
        # Narrow the gap between the last level that passed and the first that failed.
        best = rising[-1].calls if rising else 0
        for _ in range(setup.plan.capacity_refine):
            if failed is None or failed.harness_limited:
                break
            middle = (best + failed.calls) // 2
            if failed.calls - best <= max(2, best // 10) or middle <= best:
                break
            level = await run(middle)
            if level.passed:
                best = middle
            else:
                failed = level
    return Capacity(
        criterion=f"p99 outbound frame lateness < {SMOOTH_MS:g} ms and every question answered "
        f"within {ANSWER_WITHIN:g} s",
        levels=levels,
        capacity=best,
        lower_bound=failed is None or failed.harness_limited,
        memory_per_call_mb=memory_per_call(levels),
        idle_rss_mb=idle / MB,
        workers=workers,
    )


def memory_per_call(levels: Sequence[CapacityLevel]) -> float | None:
    """MB of server memory each additional call takes: the slope of the peak RSS between the
    lowest level (1 call by default) and the highest that passed in the rising sweep,
    (RSS at N - RSS at 1) / (N - 1).

    The difference leaves out what the server holds whatever the number of calls (imports,
    models, the first call's set-up, allocator arenas), so servers that passed at very
    different levels compare fairly; dividing by the calls alone would spread those costs
    over 100 calls for one server and 15 for the other. `levels` are in the order they ran:
    the rising sweep is the leading run of levels that passed. The levels that refine the
    gap after the first failure are left out, as they start from a heap that the failed,
    larger level already grew. None when fewer than two levels of the sweep passed.
    """
    rising = list(itertools.takewhile(lambda level: level.passed, levels))
    if len(rising) < 2 or rising[-1].calls <= rising[0].calls:
        return None
    first, top = rising[0], rising[-1]
    return (top.peak_rss_mb - first.peak_rss_mb) / (top.calls - first.calls)


async def _level(server: ServerProcess, calls: int, turns: int) -> CapacityLevel:
    before = server.rss_bytes()
    peak = [before]
    sampler = asyncio.create_task(_sample_rss(server, peak))
    start_at = start_time()  # the caller processes start their calls together then
    work = asyncio.create_task(
        run_in_processes("capacity", server.media_url, server.http_url, calls, turns, start_at)
    )
    try:
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        cpu_before = server.cpu_seconds()  # server CPU counts from the start of the calls
        outcomes = await work
    finally:
        work.cancel()
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    elapsed = time.monotonic() - start_at
    cpu = 100 * (server.cpu_seconds() - cpu_before) / elapsed
    lateness = Distribution.of_seconds([x for o in outcomes for x in o.lateness])
    answers = [a for o in outcomes for a in o.answered]
    own = [x for o in outcomes for x in o.own_lateness]
    own_p99 = float(1000 * np.percentile(own, 99)) if own else None  # the callers' send lateness
    smooth = lateness.p99 is not None and lateness.p99 < SMOOTH_MS
    return CapacityLevel(
        calls=calls,
        lateness=lateness,
        answered=sum(answers),
        utterances=len(answers),
        voice_to_voice=Distribution.of_seconds([v for o in outcomes for v in o.v2v]),
        peak_rss_mb=peak[0] / MB,
        rss_before_mb=before / MB,
        cpu_percent=cpu,
        caller_lateness_p99_ms=own_p99,
        errors=sum(1 for o in outcomes if o.error),
        smooth=smooth,
        passed=smooth and all(answers) and len(answers) == calls * turns,
        harness_limited=own_p99 is not None and own_p99 > SMOOTH_MS,
    )


async def call(job: Job, index: int) -> CallOutcome:
    """One capacity call, in a caller process (`caller_processes`)."""
    caller = BenchCaller(job.media_url, script(index / job.calls, job.turns))
    error = await place(caller, 30 + 15 * job.turns)
    return CallOutcome.of(caller, error)


async def _sample_rss(server: ServerProcess, peak: list[int]) -> None:
    while True:
        with contextlib.suppress(OSError, StopIteration):
            peak[0] = max(peak[0], server.rss_bytes())
        await asyncio.sleep(0.25)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"
