"""Simulated callers in processes of their own, for the capacity and overload runs.

One harness process cannot keep up with a hundred real-time calls: at 80 calls its own send
lateness reached 320 ms while the server used two thirds of a core, so the level failed on
the harness, not on the server. Here the calls of a level are shared among processes of
`CALLS_PER_PROCESS` calls each; every process imports, waits for a common start on the
monotonic clock (the same in every process), runs its calls and prints what each measured
as one JSON line. What crosses back is a `CallOutcome` per call, not the caller's log.

The callers still share the machine's cores with the server; their send lateness is
reported beside each level, so a level the harness could not drive says so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Literal

import httpx

from parley.benchmarks.caller import BenchCaller, answered, frame_lateness

Kind = Literal["capacity", "overload"]
CALLS_PER_PROCESS = 20
STARTUP_S = 4.0  # a process's imports and its clip set-up, before the common start
ANSWER_WITHIN = 5.0  # seconds from the end of a question to the first audio of its answer


@dataclass
class CallOutcome:
    """One call, as its caller measured it."""

    error: str | None = None
    lateness: list[float] = field(default_factory=list)  # outbound frames, after needed
    own_lateness: list[float] = field(default_factory=list)  # the caller's own sends
    answered: list[bool] = field(default_factory=list)
    v2v: list[float | None] = field(default_factory=list)
    refused_at: str | None = None  # overload: "webhook" or "stream"
    refused_ms: float | None = None

    @classmethod
    def of(cls, caller: BenchCaller, error: str | None) -> CallOutcome:
        return cls(
            error=error,
            lateness=frame_lateness(caller),
            own_lateness=caller.frame_lateness(),
            answered=answered(caller, ANSWER_WITHIN),
            v2v=[caller.voice_to_voice(u) for u in caller.log.utterances],
        )


@dataclass
class Job:
    kind: Kind
    media_url: str
    http_url: str
    indices: list[int]
    calls: int
    turns: int
    start_at: float  # time.monotonic(), the same clock in every process


def start_time() -> float:
    """When calls launched now start: after the processes' start-up (monotonic clock)."""
    return time.monotonic() + STARTUP_S


async def run_in_processes(
    kind: Kind, media_url: str, http_url: str, calls: int, turns: int, start_at: float
) -> list[CallOutcome]:
    """Run `calls` calls of `kind` across caller processes, starting together at `start_at`
    (`start_time()`); their outcomes in index order."""
    processes = max(1, math.ceil(calls / CALLS_PER_PROCESS))
    jobs = [
        Job(kind, media_url, http_url, list(range(p, calls, processes)), calls, turns, start_at)
        for p in range(processes)
    ]
    results = await asyncio.gather(*(_spawn(job) for job in jobs))
    outcomes: list[CallOutcome | None] = [None] * calls
    for job, result in zip(jobs, results, strict=True):
        for index, outcome in zip(job.indices, result, strict=True):
            outcomes[index] = outcome
    return [o if o is not None else CallOutcome(error="no outcome") for o in outcomes]


async def _spawn(job: Job) -> list[CallOutcome]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "parley.benchmarks.caller_processes",
        json.dumps(dataclasses.asdict(job)),
        stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        out, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"a caller process failed (exit status {process.returncode})")
    return [CallOutcome(**o) for o in json.loads(out.decode().strip().splitlines()[-1])]


async def _run_job(job: Job) -> list[CallOutcome]:
    # Imported here: those modules import this one for `run_in_processes`.
    from parley.benchmarks.capacity import call, script
    from parley.benchmarks.overload import ring

    script(0.0, job.turns)  # reads the clips once (cached)
    # One HTTP client for the process's webhooks, made before the start: a client each would
    # build an SSL context (its CA bundle read) per call in the middle of the burst, CPU the
    # callers take from the server and count into their own refusal times.
    async with httpx.AsyncClient(timeout=10.0) as http:
        # A full collection walking the imports would hold this process's callers for tens of
        # ms (measured: 30-60 ms), counted as the server's lateness: freeze them, as the
        # server does.
        gc.collect()
        gc.freeze()
        await asyncio.sleep(max(0.0, job.start_at - time.monotonic()))
        if job.kind == "capacity":
            return list(await asyncio.gather(*(call(job, index) for index in job.indices)))
        return list(await asyncio.gather(*(ring(job, index, http) for index in job.indices)))


def main() -> None:
    """A caller process: `python -m parley.benchmarks.caller_processes JOB_JSON`."""
    job = Job(**json.loads(sys.argv[1]))
    outcomes = asyncio.run(_run_job(job))
    print(json.dumps([dataclasses.asdict(o) for o in outcomes]))


if __name__ == "__main__":
    main()
