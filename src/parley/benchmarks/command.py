"""`parley bench`: its flags, and printing the run as it goes and the table at the end."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Any

from rich.console import Console

PARTS_HELP = "barge_in, input_gap, hangup, overhead, capacity, overload, embedded"


def add_parser(commands: Any) -> None:
    """Add the `bench` subcommand to the CLI's subparsers."""
    bench: argparse.ArgumentParser = commands.add_parser(
        "bench", help="latencies and capacity over Twilio, optionally side by side with Pipecat"
    )
    bench.add_argument("--vs", choices=["pipecat"], help="also run Pipecat, same run, same fakes")
    bench.add_argument("--quick", action="store_true", help="a smoke run (checks, not timing)")
    bench.add_argument("--out", type=Path, help="where results go (default bench/results)")
    bench.add_argument("--only", help=f"comma-separated parts to run: {PARTS_HELP}")
    bench.add_argument("--no-embedded", action="store_true", help="skip the embedded models")
    bench.add_argument("--max-calls", type=int, help="highest capacity level to try")
    bench.add_argument(
        "--workers",
        default="1",
        help="parley's capacity with each of these `parley serve --workers` counts, comma-"
        "separated (e.g. 1,2); the overload run uses the last",
    )
    bench.add_argument(
        "--overload-capacity",
        type=int,
        help="the node's capacity for the overload run (default: the capacity measured)",
    )
    bench.add_argument("--keep-logs", action="store_true", help="keep the servers' logs")
    bench.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a turn-taking setting for parley's servers, changed from its default "
        "(repeatable; e.g. turn_detector=smart-turn, preemptive_response=true)",
    )
    bench.add_argument(
        "--soak",
        action="store_true",
        help="run only the soak: many calls for minutes, watching the server's memory, fds, "
        "tasks and event-loop lag (bench/results/soak.json, soak.png)",
    )
    bench.add_argument("--soak-calls", type=int, default=50, help="concurrent calls (soak)")
    bench.add_argument("--soak-duration", type=float, default=600.0, help="seconds (soak)")
    bench.add_argument(
        "--soak-warmup", type=float, help="seconds before the warm level is taken (soak; "
        "default a minute)"
    )  # fmt: skip
    bench.add_argument(
        "--soak-speakers", type=int, help="calls that speak; the others stay up, silent (soak; "
        "default all: the embedded models cannot answer 50 calls at once on a small machine)"
    )  # fmt: skip
    bench.add_argument(
        "--soak-providers",
        choices=["fake", "silero", "embedded"],
        default="fake",
        help="fake: loudness VAD and the fakes; silero: real Silero VAD, fake STT/LLM/TTS; "
        "embedded: the embedded models (soak)",
    )
    bench.add_argument(
        "--records",
        action="store_true",
        help="run only the call records comparison: barge-in, voice-to-voice and capacity "
        "with records off, then on (bench/results/records.json, records.md)",
    )
    bench.add_argument(
        "--rerender",
        action="store_true",
        help="run nothing: rewrite the reports in --out from its results.json",
    )


def run_command(args: argparse.Namespace, console: Console) -> int:
    from parley.benchmarks.report import markdown
    from parley.benchmarks.run import BenchError, BenchOptions, default_out, rerender, run_bench

    if args.soak:
        return _soak(args, console)
    if args.records:
        return _records(args, console)
    if args.rerender:
        out = args.out or default_out(quick=False)
        if not (out / "results.json").is_file():
            console.print(f"[red]no results.json in {out}[/red]")
            return 2
        _, written = rerender(out, lambda line: console.print(f"· {line}"))
        for path in written:
            console.print(f"wrote {path}")
        return 0

    options = BenchOptions(
        vs_pipecat=args.vs == "pipecat",
        quick=args.quick,
        embedded=not args.no_embedded,
        only=[p.strip() for p in args.only.split(",")] if args.only else None,
        out=args.out,
        max_calls=args.max_calls,
        workers=[int(n) for n in args.workers.split(",")],
        overload_capacity=args.overload_capacity,
        keep_logs=args.keep_logs,
        policy=_policy_overrides(args.policy),
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the readiness polls
    try:
        report, written = asyncio.run(run_bench(options, lambda line: console.print(f"· {line}")))
    except BenchError as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    console.print(markdown(report), markup=False, highlight=False, soft_wrap=True)
    for path in written:
        console.print(f"wrote {path}")
    failed = [note for note in report.notes if " failed: " in note]
    return 1 if failed else 0


def _policy_overrides(pairs: list[str]) -> dict[str, str]:
    """`--policy KEY=VALUE` flags as a dict; TurnTakingPolicy validates the values."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--policy wants KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = value.strip()
    return overrides


def _records(args: argparse.Namespace, console: Console) -> int:
    import shutil
    import tempfile

    from parley.benchmarks import records
    from parley.benchmarks.plan import DEFAULT, QUICK, Setup
    from parley.benchmarks.run import default_out
    from parley.benchmarks.spec import Latencies
    from parley.conversation.policy import TurnTakingPolicy

    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-records-"))
    plan = QUICK if args.quick else DEFAULT
    setup = Setup("parley", workdir, Latencies(), TurnTakingPolicy(), plan)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        report = asyncio.run(
            records.compare(setup, lambda line: console.print(f"· {line}"), args.max_calls)
        )
    finally:
        if args.keep_logs:
            console.print(f"server logs and events: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    out: Path = args.out or default_out(quick=args.quick)
    console.print(records.markdown(report), markup=False, highlight=False, soft_wrap=True)
    for path in records.write(report, out):
        console.print(f"wrote {path}")
    return 1 if report.errors else 0


def _soak(args: argparse.Namespace, console: Console) -> int:
    import shutil
    import tempfile

    from parley.benchmarks import plots
    from parley.benchmarks.run import default_out
    from parley.benchmarks.soak import SoakOptions, soak

    out: Path = args.out or default_out(quick=False)
    name = "soak" if args.soak_providers == "fake" else f"soak-{args.soak_providers}"
    workdir = Path(tempfile.mkdtemp(prefix="parley-soak-"))
    options = SoakOptions(
        calls=args.soak_calls,
        duration_s=args.soak_duration,
        providers=args.soak_providers,
        warmup_s=args.soak_warmup,
        speakers=args.soak_speakers,
        workdir=workdir,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        result = asyncio.run(soak(options, lambda line: console.print(f"· {line}")))
    finally:
        if args.keep_logs:
            console.print(f"server log: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(result.model_dump_json(indent=1))
    written = [out / f"{name}.json"]
    try:
        written.append(plots.soak(result, out / f"{name}.png"))
    except ImportError:
        console.print("plot skipped: matplotlib is not installed (pip install -e '.[bench]')")
    console.print(
        f"RSS: idle {result.idle_rss_mb:.1f} MB, warm {result.warm_rss_mb:.1f} MB, end "
        f"{result.end_rss_mb:.1f} MB ({result.growth_percent:+.1f}%), after hang-up "
        f"{result.after_rss_mb:.1f} MB ({result.after_vs_warm_percent:+.1f}% vs warm); "
        f"tasks {result.idle_tasks} idle -> {result.after_tasks} after; fds {result.idle_fds} "
        f"-> {result.after_fds}; calls {result.calls_placed} ({result.calls_failed} failed); "
        f"barge-in to clear p50/p95 {result.barge_in_to_clear.p50} / "
        f"{result.barge_in_to_clear.p95} ms; heap trims {result.heap_trims}, longest "
        f"{result.heap_trim_longest_ms} ms; collections after calls ended "
        f"{result.gc_collections}, longest {result.gc_longest_ms} ms",
        markup=False,
        highlight=False,
    )
    for path in written:
        console.print(f"wrote {path}")
    return 0
