"""`parley bench --soak`: many calls for many minutes, watching the server for leaks.

N Twilio-protocol callers stay connected for the whole run (each slot places call after call,
`cycles` question-and-barge-in rounds each, so sessions also open and close throughout). Each
round the caller asks a question, barges in after a second of the (long) answer, and listens
to the answer to the merged turn. Every `interval` the harness samples the server process:
resident memory (and its children's), open fds and CPU from /proc, asyncio tasks, sessions
and the worst event-loop lag from /metrics, and the machine's load. After the duration every
call hangs up, and sampling goes on while the server settles. soak_results.py says how the
growth figures are drawn from the samples.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from parley.benchmarks.caller import (
    INTERRUPTION,
    QUESTION,
    BenchCaller,
    answered,
    clip,
    frame_lateness,
)
from parley.benchmarks.process import ServerProcess, free_port, running
from parley.benchmarks.report import machine
from parley.benchmarks.results import Distribution
from parley.benchmarks.scenarios import STORY
from parley.benchmarks.soak_results import (
    BargeInCause,
    Phase,
    Soak,
    SoakProviders,
    SoakSample,
    summarize_memory,
)
from parley.benchmarks.spec import Latencies, ServerSpec
from parley.conversation.policy import TurnTakingPolicy
from parley.testing.twilio_caller.fake_caller import (
    CallerStep,
    Pause,
    Speak,
    WaitFor,
    agent_finished,
    agent_heard,
)

Say = Callable[[str], None]
MB = 1024 * 1024
ANSWER_WITHIN = 5.0
FRAME_SECONDS = 0.02
CALLS_PER_WORKER = 10
MIN_SPEECH_S = TurnTakingPolicy().min_interruption_ms / 1000


@dataclass
class SoakOptions:
    calls: int = 50
    duration_s: float = 600.0
    providers: SoakProviders = "fake"
    warmup_s: float | None = None  # default: a minute, or a fifth of a shorter run
    interval_s: float = 5.0
    settle_s: float = 30.0  # sampling after the hang-up
    cycles: int = 6  # rounds per call before it hangs up and its slot calls again
    workers: int | None = None  # caller processes (default: one per CALLS_PER_WORKER calls)
    speakers: int | None = None  # calls that speak (default all); the rest stay up, silent
    workdir: Path = field(default_factory=lambda: Path("/tmp"))

    @property
    def warmup(self) -> float:
        return self.warmup_s if self.warmup_s is not None else min(60.0, self.duration_s / 5)


@dataclass
class _Tally:
    """What the finished calls measured (their logs are dropped as they end)."""

    placed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    utterances: int = 0
    answered: int = 0
    v2v: list[float | None] = field(default_factory=list)
    to_clear: list[float | None] = field(default_factory=list)
    playing: list[float | None] = field(default_factory=list)
    not_playing: list[float | None] = field(default_factory=list)
    sent_late: list[float | None] = field(default_factory=list)
    server_part: list[float | None] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)
    own_lateness: list[float] = field(default_factory=list)

    def merge(self, other: _Tally) -> None:
        for name, value in dataclasses.asdict(other).items():
            mine = getattr(self, name)
            setattr(self, name, mine + value)
        self.errors = self.errors[:10]

    def add(self, caller: BenchCaller, error: str | None) -> None:
        self.placed += 1
        if error is not None:
            self.failed += 1
            if len(self.errors) < 10:
                self.errors.append(error)
        answers = answered(caller, ANSWER_WITHIN)
        self.utterances += len(answers)
        self.answered += sum(answers)
        self.v2v += [caller.voice_to_voice(u) for u in caller.log.utterances]
        for u in caller.log.utterances:
            if not u.label.startswith("barge-in") or u.onset is None:
                continue
            delay = caller.barge_in_delay(u)
            self.to_clear.append(delay)
            # Was agent audio audible at the onset? (Chunks cut by a clear keep what played.)
            audible = any(c.start <= u.onset < c.end for c in caller.playback.chunks)
            (self.playing if audible else self.not_playing).append(delay)
            # How late the harness sent the frame that completes the VAD's minimum speech:
            # the server cannot decide before it has that frame.
            late = _send_lateness(caller, u.onset + MIN_SPEECH_S)
            self.sent_late.append(late)
            if delay is not None and late is not None:
                self.server_part.append(delay - late)
        self.lateness += frame_lateness(caller)
        self.own_lateness += caller.frame_lateness()


def _send_lateness(caller: BenchCaller, moment: float) -> float | None:
    """How late the caller sent the frame holding audio captured at `moment`."""
    index = math.ceil((moment - caller.started_at) / FRAME_SECONDS) - 1
    if not 0 <= index < len(caller.log.frames):
        return None
    due, sent = caller.log.frames[index]
    return max(0.0, sent - due)


def script(cycles: int, stagger: float) -> list[CallerStep]:
    question, interruption = clip(QUESTION), clip(INTERRUPTION)
    steps: list[CallerStep] = [Pause(0.3 + stagger)]
    for turn in range(cycles):
        steps += [
            Speak(question, f"question {turn}"),
            WaitFor(agent_heard(1.0), limit=20, what="the story"),
            Speak(interruption, f"barge-in {turn}"),
            WaitFor(agent_finished(0.5), limit=30, what="the answer"),
        ]
    return steps


def spec_for(options: SoakOptions, workdir: Path) -> ServerSpec:
    fake = Latencies().fake_settings([STORY])  # 6.5 s: always still talking at the barge-in
    if options.providers == "embedded":
        from parley.benchmarks.embedded import INSTRUCTIONS, MAX_TOKENS

        return ServerSpec(framework="parley", port=free_port(), events=workdir / "soak.jsonl",
                          providers="embedded", instructions=INSTRUCTIONS,
                          llama_max_tokens=MAX_TOKENS)  # fmt: skip
    return ServerSpec(
        framework="parley",
        port=free_port(),
        events=workdir / "soak.jsonl",
        vad="energy" if options.providers == "fake" else "silero",
        fake=fake,
        policy=TurnTakingPolicy(),
    )


async def soak(options: SoakOptions, say: Say) -> Soak:
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    spec = spec_for(options, options.workdir)
    tally = _Tally()
    samples: list[SoakSample] = []
    say(f"soak: {options.calls} calls for {options.duration_s:g} s, {options.providers} "
        "providers; starting the server")  # fmt: skip
    async with (
        running(spec, options.workdir, "parley-soak") as server,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{spec.port}", timeout=10.0) as http,
    ):
        sampler = _Sampler(server, http, samples)
        await asyncio.sleep(2.0)
        await sampler.sample("idle", 0.0)
        await asyncio.sleep(1.0)
        await sampler.sample("idle", 0.0)
        loop = asyncio.get_running_loop()
        origin = loop.time()
        end = origin + options.duration_s
        sampling = asyncio.create_task(sampler.every(options.interval_s, origin, say))
        workers = [
            asyncio.create_task(_worker(server.media_url, share, options, end))
            for share in _shares(options)
        ]
        try:
            for tally_part in await asyncio.gather(*workers):
                tally.merge(tally_part)
            say(f"soak: hung up at {loop.time() - origin:.0f} s; letting the server settle")
            sampler.phase = "after"
            await asyncio.sleep(options.settle_s)
        finally:
            sampling.cancel()
            for task in workers:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(sampling, *workers, return_exceptions=True)
        await sampler.sample("after", loop.time() - origin)
    return _result(options, started, samples, tally, sampler.metrics)


def _shares(options: SoakOptions) -> list[list[int]]:
    """The slots each caller process runs (one process cannot keep up with many calls on a
    busy machine: its send lateness would be measured as the server's)."""
    workers = options.workers or max(1, math.ceil(options.calls / CALLS_PER_WORKER))
    return [list(range(w, options.calls, workers)) for w in range(workers)]


async def _worker(media_url: str, slots: list[int], options: SoakOptions, end: float) -> _Tally:
    """Run these slots in a process of their own; its tally comes back as JSON."""
    speakers = options.calls if options.speakers is None else options.speakers
    job = _Job(media_url, slots, options.calls, options.warmup, options.cycles, end, speakers)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "parley.benchmarks.soak", json.dumps(dataclasses.asdict(job)),
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
    return _Tally(**json.loads(out.decode().strip().splitlines()[-1]))


@dataclass
class _Job:
    media_url: str
    slots: list[int]
    calls: int
    warmup: float
    cycles: int
    end: float  # time.monotonic(), the same clock in every process
    speakers: int  # slots below this speak; the others hold a silent line


async def _run_job(job: _Job) -> _Tally:
    tally = _Tally()
    await asyncio.gather(*(_slot(job, index, tally) for index in job.slots))
    return tally


async def _slot(job: _Job, index: int, tally: _Tally) -> None:
    """One line kept busy: a call, and when it hangs up another, until `end`; then hang up."""
    loop = asyncio.get_running_loop()
    stagger = index * min(10.0, job.warmup / 2) / max(1, job.calls)
    end = job.end
    while loop.time() < end - 5:
        steps = script(job.cycles, stagger) if index < job.speakers else [Pause(end - loop.time())]
        caller = BenchCaller(job.media_url, steps)
        stagger = 0.0
        call = asyncio.create_task(caller.run())
        error: str | None = None
        try:
            done, _ = await asyncio.wait([call], timeout=max(0.0, end - loop.time()))
            if not done:  # the soak is over: hang up, as the caller
                await caller.end_call("caller")
                await asyncio.wait_for(call, 15)
            else:
                call.result()
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            call.cancel()
            await asyncio.sleep(1.0)  # a refused call: do not spin
        tally.add(caller, error)


class _Sampler:
    def __init__(
        self, server: ServerProcess, http: httpx.AsyncClient, samples: list[SoakSample]
    ) -> None:
        self.server = server
        self.http = http
        self.samples = samples
        self.phase: Phase = "calls"
        self._cpu = (time.monotonic(), server.cpu_seconds())
        self.metrics: dict[str, float] = {}  # the latest scrape

    async def every(self, interval: float, origin: float, say: Say) -> None:
        loop = asyncio.get_running_loop()
        for tick in itertools.count(1):
            await asyncio.sleep(max(0.0, origin + tick * interval - loop.time()))
            sample = await self.sample(self.phase, loop.time() - origin)
            if tick % max(1, round(60 / interval)) == 0:
                lag = sample.loop_lag_ms or 0.0
                say(f"soak: {sample.t:.0f} s, RSS {sample.rss_mb:.1f} MB, {sample.fds} fds, "
                    f"{sample.tasks} tasks, {sample.sessions} sessions, lag {lag:.0f} ms, "
                    f"load {sample.load_average:.1f}")  # fmt: skip

    async def sample(self, phase: Phase, t: float) -> SoakSample:
        pid = self.server.process.pid
        metrics = await self._metrics()
        self.metrics = metrics or self.metrics
        now, cpu = time.monotonic(), self.server.cpu_seconds()
        cpu_percent = 100 * (cpu - self._cpu[1]) / max(1e-6, now - self._cpu[0])
        self._cpu = (now, cpu)
        lag = metrics.get("parley_event_loop_lag_seconds")
        sample = SoakSample(
            t=t,
            phase=phase,
            rss_mb=self.server.rss_bytes() / MB,
            children_rss_mb=sum(_rss(child) for child in _descendants(pid)) / MB,
            fds=len(os.listdir(f"/proc/{pid}/fd")),
            tasks=_int(metrics.get("parley_asyncio_tasks")),
            loop_lag_ms=None if lag is None else 1000 * lag,
            sessions=_int(metrics.get("parley_sessions_active")),
            cpu_percent=cpu_percent,
            load_average=os.getloadavg()[0],
        )
        self.samples.append(sample)
        return sample

    async def _metrics(self) -> dict[str, float]:
        try:
            text = (await self.http.get("/metrics")).text
        except httpx.HTTPError:
            return {}
        return {
            s.name: s.value for family in text_string_to_metric_families(text)
            for s in family.samples
        }  # fmt: skip


def _int(value: float | None) -> int | None:
    return None if value is None else round(value)


def _descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError):
                children = [int(c) for c in (task / "children").read_text().split()]
                found += children
                frontier += children
    return found


def _rss(pid: int) -> int:
    with contextlib.suppress(OSError, StopIteration):
        status = Path(f"/proc/{pid}/status").read_text()
        return int(next(x for x in status.splitlines() if x.startswith("VmRSS:")).split()[1]) * 1024
    return 0


def _result(
    options: SoakOptions,
    started: str,
    samples: list[SoakSample],
    t: _Tally,
    metrics: dict[str, float],
) -> Soak:
    idle, warm, end, after, slope = summarize_memory(samples, options.warmup, options.interval_s)
    idle_sample = next(s for s in reversed(samples) if s.phase == "idle")
    last = samples[-1]
    own = t.own_lateness
    lags = [s.loop_lag_ms for s in samples if s.loop_lag_ms is not None and s.phase == "calls"]
    trim_s = metrics.get("parley_memory_trim_seconds")
    released = metrics.get("parley_memory_trim_released_bytes_total")
    gc_s = metrics.get("parley_gc_collect_seconds")
    return Soak(
        providers=options.providers,
        calls=options.calls,
        speakers=options.calls if options.speakers is None else options.speakers,
        duration_s=options.duration_s,
        warmup_s=options.warmup,
        interval_s=options.interval_s,
        call_length_cycles=options.cycles,
        started=started,
        machine=machine(),
        samples=samples,
        idle_rss_mb=idle,
        warm_rss_mb=warm,
        end_rss_mb=end,
        after_rss_mb=after,
        growth_percent=100 * (end - warm) / warm,
        after_vs_warm_percent=100 * (after - warm) / warm,
        slope_mb_per_min=slope,
        idle_tasks=idle_sample.tasks,
        after_tasks=last.tasks,
        idle_fds=idle_sample.fds,
        after_fds=last.fds,
        sessions_after=last.sessions,
        calls_placed=t.placed,
        calls_failed=t.failed,
        errors=t.errors,
        utterances=t.utterances,
        answered=t.answered,
        voice_to_voice=Distribution.of_seconds(t.v2v),
        barge_ins=len(t.to_clear),
        barge_in_to_clear=Distribution.of_seconds(t.to_clear),
        barge_in_causes=BargeInCause(
            playing=Distribution.of_seconds(t.playing),
            not_playing=Distribution.of_seconds(t.not_playing),
            not_playing_count=len(t.not_playing),
            without_clear=sum(1 for d in t.to_clear if d is None),
            caller_sent_late=Distribution.of_seconds(t.sent_late),
            less_caller_lateness=Distribution.of_seconds(t.server_part),
        ),
        outbound_lateness=Distribution.of_seconds(t.lateness),
        caller_lateness_p99_ms=float(1000 * np.percentile(own, 99)) if own else None,
        loop_lag_max_ms=max(lags) if lags else None,
        load_average_mean=float(np.mean([s.load_average for s in samples])),
        heap_trims=_int(metrics.get("parley_memory_trims_total")),
        heap_trim_longest_ms=None if trim_s is None else 1000 * trim_s,
        heap_trim_released_mb=None if released is None else released / MB,
        gc_collections=_int(metrics.get("parley_gc_collections_total")),
        gc_longest_ms=None if gc_s is None else 1000 * gc_s,
    )


def main() -> None:
    """A caller process: `python -m parley.benchmarks.soak JOB_JSON`; prints its tally."""
    job = _Job(**json.loads(sys.argv[1]))
    tally = asyncio.run(_run_job(job))
    print(json.dumps(dataclasses.asdict(tally)))


if __name__ == "__main__":
    main()
