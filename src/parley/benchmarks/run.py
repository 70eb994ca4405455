"""Runs the benchmark: each scenario for parley (then Pipecat, scenario by scenario, so both
see the same machine), the embedded run, then the report, JSON, markdown and plots."""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from parley import __version__
from parley.benchmarks import plots, report
from parley.benchmarks.capacity import capacity, memory_per_call
from parley.benchmarks.embedded import embedded as run_embedded
from parley.benchmarks.overload import overload as run_overload
from parley.benchmarks.plan import DEFAULT, QUICK, Plan, Setup
from parley.benchmarks.results import BenchReport, Embedded, FrameworkResults
from parley.benchmarks.scenarios import SCENARIOS
from parley.benchmarks.spec import Framework, Latencies
from parley.conversation.policy import TurnTakingPolicy

Say = Callable[[str], None]
T = TypeVar("T")
PARTS = (*SCENARIOS, "capacity", "overload", "embedded")
REPO = Path(__file__).resolve().parents[3]
DEFAULT_MODE, QUICK_MODE = "default", "quick smoke run (not for timing)"
NOT_INSTALLED = "The embedded models are not installed (`make setup`): skipped."


class BenchError(RuntimeError):
    """The benchmark cannot run as asked (a missing extra, say)."""


class BenchOptions(BaseModel):
    vs_pipecat: bool = False
    quick: bool = False
    embedded: bool = True
    only: list[str] | None = Field(None, description="run only these parts (PARTS)")
    out: Path | None = None
    max_calls: int | None = Field(None, ge=1, description="highest capacity level to try")
    workers: list[int] = Field(
        default_factory=lambda: [1],
        description="parley's capacity with each of these --workers counts; the overload run "
        "uses the last",
    )
    overload_capacity: int | None = Field(
        None, ge=1, description="the node's capacity for the overload run (default: measured)"
    )
    keep_logs: bool = False
    policy: dict[str, Any] = Field(
        default_factory=dict, description="turn-taking settings changed from the defaults"
    )
    latencies: Latencies = Field(default_factory=Latencies)


def default_out(quick: bool) -> Path:
    """bench/results in the checkout; a fresh temporary folder for quick (smoke) runs."""
    if quick:
        return Path(tempfile.mkdtemp(prefix="parley-bench-quick-"))
    return REPO / "bench" / "results" if (REPO / "bench").is_dir() else Path("bench/results")


def check(options: BenchOptions) -> None:
    if options.vs_pipecat and importlib.util.find_spec("pipecat") is None:
        raise BenchError(
            "--vs pipecat needs Pipecat: install the bench extra, pip install -e '.[bench]'"
        )
    unknown = set(options.only or ()) - set(PARTS)
    if unknown:
        raise BenchError(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    try:
        TurnTakingPolicy.model_validate(options.policy)
    except ValidationError as exc:
        raise BenchError(f"--policy: {exc}") from None


def _embedded_installed() -> bool:
    return all(importlib.util.find_spec(m) for m in ("faster_whisper", "llama_cpp", "piper"))


async def run_bench(options: BenchOptions, say: Say) -> tuple[BenchReport, list[Path]]:
    check(options)
    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-work-"))
    try:
        return await _run(options, workdir, say)
    finally:  # on failure or cancellation too
        if options.keep_logs:
            say(f"server logs and events: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


async def _run(options: BenchOptions, workdir: Path, say: Say) -> tuple[BenchReport, list[Path]]:
    started, clock = datetime.now(UTC), time.monotonic()
    plan = QUICK if options.quick else DEFAULT
    policy = TurnTakingPolicy.model_validate(options.policy)
    frameworks: list[Framework] = ["parley", "pipecat"] if options.vs_pipecat else ["parley"]
    results = {fw: FrameworkResults(framework=fw, version=_version(fw)) for fw in frameworks}
    setups = {fw: Setup(fw, workdir, options.latencies, policy, plan) for fw in frameworks}
    wanted = [p for p in PARTS if options.only is None or p in options.only]
    notes = _notes(plan)

    async def measure(part: str, fw: Framework) -> None:
        if part == "capacity" and fw == "parley" and options.workers != [1]:
            await measure_workers()
            return
        if part == "overload":
            await measure_overload(fw)
            return
        say(f"{part.replace('_', ' ')}: {fw} ({time.monotonic() - clock:.0f} s in)")
        setup = setups[fw]
        work: Awaitable[BaseModel] = (
            capacity(setup, say, options.max_calls)
            if part == "capacity"
            else SCENARIOS[part](setup)
        )
        value = await _guard(work, part, fw, notes, say)
        if value is not None:
            setattr(results[fw], part, value)

    async def measure_workers() -> None:
        """parley's capacity at each --workers count: the first is `capacity`, the rest
        `capacity_workers`."""
        for index, count in enumerate(options.workers):
            workers = f"{count} worker{'s' if count > 1 else ''}"
            say(f"capacity: parley, {workers} ({time.monotonic() - clock:.0f} s in)")
            work = capacity(setups["parley"], say, options.max_calls, workers=count)
            value = await _guard(work, "capacity", "parley", notes, say)
            if value is None:
                continue
            if index == 0:
                results["parley"].capacity = value
            else:
                results["parley"].capacity_workers.append(value)

    async def measure_overload(fw: Framework) -> None:
        if fw != "parley":
            return  # admission control is parley's
        workers = options.workers[-1]
        node = options.overload_capacity or _measured(results["parley"], workers)
        if node is None:
            notes.append("Overload: skipped (no capacity measured at "
                         f"{workers} workers; give --overload-capacity).")  # fmt: skip
            return
        say(f"overload: parley ({time.monotonic() - clock:.0f} s in)")
        work = run_overload(setups["parley"], say, node, workers)
        value = await _guard(work, "overload", "parley", notes, say)
        if value is not None:
            results["parley"].overload = value

    for part in [p for p in wanted if p != "embedded"]:
        if options.quick:  # checking, not timing: both frameworks at once
            await asyncio.gather(*(measure(part, fw) for fw in frameworks))
        else:  # one at a time, so neither slows the other down
            for fw in frameworks:
                await measure(part, fw)

    embedded_result: Embedded | None = None
    if "embedded" in wanted and options.embedded:
        if _embedded_installed():
            embedded_result = await _guard(run_embedded(setups["parley"], say), "embedded",
                                           "parley", notes, say)  # fmt: skip
        else:
            notes.append(NOT_INSTALLED)

    bench_report = BenchReport(
        mode=QUICK_MODE if options.quick else DEFAULT_MODE,
        started=started.strftime("%Y-%m-%d %H:%M UTC"),
        duration_s=time.monotonic() - clock,
        machine=report.machine(),
        latencies=options.latencies,
        policy=BenchReport.policy_summary(policy),
        notes=notes,
        results=dict(results),
        embedded=embedded_result,
    )
    out = options.out or default_out(options.quick)
    return bench_report, _write(bench_report, out, say)


def _measured(results: FrameworkResults, workers: int) -> int | None:
    """The capacity measured at `workers` workers in this run, if any passed level."""
    for found in [results.capacity, *results.capacity_workers]:
        if found is not None and found.workers == workers and found.capacity > 0:
            return found.capacity
    return None


def rerender(out: Path, say: Say) -> tuple[BenchReport, list[Path]]:
    """Rewrite the reports in `out` from its results.json, running nothing.

    What the current code derives from the stored measurements is derived again (memory per
    call, from the capacity levels), the set-up notes are the current ones (the run's own
    notes, its failures and skips, are kept), and results.json, results.md and the plots are
    written anew. For a change in how a figure is computed or shown, not in what is measured.
    """
    bench_report = BenchReport.model_validate_json((out / "results.json").read_text())
    for results in bench_report.results.values():
        if results.capacity is not None:
            results.capacity.memory_per_call_mb = memory_per_call(results.capacity.levels)
    plan = QUICK if bench_report.mode == QUICK_MODE else DEFAULT
    run_notes = [n for n in bench_report.notes if " failed: " in n or n == NOT_INSTALLED]
    bench_report.notes = [*_notes(plan), *run_notes]
    return bench_report, _write(bench_report, out, say)


def _write(bench_report: BenchReport, out: Path, say: Say) -> list[Path]:
    written = report.write(bench_report, out)
    try:
        written += plots.draw(bench_report, out)
    except ImportError:
        say("plots skipped: matplotlib is not installed (pip install -e '.[bench]')")
    return written


async def _guard(
    work: Awaitable[T], part: str, framework: str, notes: list[str], say: Say
) -> T | None:
    """Run one part; a failure is noted in the report and the run goes on."""
    try:
        return await work
    except Exception as exc:
        message = f"{framework} {part} failed: {type(exc).__name__}: {exc}"
        say(message)
        notes.append(message)
        return None


def _version(framework: Framework) -> str:
    if framework == "parley":
        return __version__
    return importlib.metadata.version("pipecat-ai")


def _notes(plan: Plan) -> list[str]:
    return [
        "Each server runs in a process of its own; the simulated callers (real speech, 20 ms "
        "mu-law frames in real time, a playback buffer that honours `clear` and echoes marks) "
        "run in the harness process on the same cores.",
        "Both servers use the same fake provider objects, built by parley's factories from the "
        "same settings; for Pipecat they are wrapped as Pipecat services "
        "(src/parley/benchmarks/pipecat_services.py).",
        "Pipecat runs its telephony template: FastAPIWebsocketTransport with the "
        "TwilioFrameSerializer at 8 kHz, the user aggregator's SileroVADAnalyzer, and a "
        "SpeechTimeoutUserTurnStopStrategy instead of the Smart Turn model, all set to "
        "parley's turn-taking values.",
        "Pipecat's websocket output sends audio at twice real time and the caller buffers it; "
        "parley sends at most 100 ms ahead of the listener. Frame lateness counts how long "
        "after the listener needed a frame it arrived (0 when in time).",
        "Overhead: the stated time is the end-of-speech silence + max(merge gap, STT final) + "
        "the LLM's first sentence + the TTS's first audio; the VAD's own delay in hearing the "
        "silence, and network and event-loop time, count as overhead for both.",
        f"Input gap: closing the fake TTS stream takes {plan.input_gap_close_s:g} s; the "
        "barge-in cancels a response whose TTS is still streaming, so that stream is closed.",
        "Input gap, Pipecat: the fake TTS's slow close runs in Pipecat's "
        "`on_audio_context_interrupted` hook, which Pipecat awaits while it handles the "
        "interruption; its real websocket TTS services only send a cancel message there, which "
        "holds up the interruption the same way only if the socket send stalls. Pipecat's "
        "`clear` and answer times in that call measure a clean-up that hangs in that hook.",
        "Hangup: the LLM stops one word into its second sentence and the TTS after 2 s of "
        "audio, both never ending until cancelled, and closing each takes "
        f"{plan.hangup_close_s:g} s (parley's close deadline is 2 s).",
    ]
