"""The `parley` command: serve, demo, providers, bench."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from parley.logsafe import configure_logging

console = Console()


def _provider_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--settings", type=Path, help="a TOML settings file")
    for kind in ("vad", "stt", "llm", "tts"):
        parser.add_argument(f"--{kind}", help=f"{kind.upper()} provider by name")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley", description="A real-time voice agent server.")
    parser.add_argument("-v", "--verbose", action="store_true", help="more logging")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="text: one line per record (default); json: one object per line",
    )
    serve.add_argument(
        "--workers",
        type=int,
        help="session processes on the port, sharing one model process (default: one per "
        "core; 1: a single process)",
    )
    _provider_flags(serve)
    talk = commands.add_parser(
        "talk", help="a call on this computer's microphone and speakers (or --in/--out WAVs)"
    )
    talk.add_argument(
        "--in", dest="question", type=Path, help="answer this WAV question, then quit"
    )
    talk.add_argument("--out", dest="reply", type=Path, help="where the reply to --in goes")
    talk.add_argument("--input-device", help="microphone: index or name (parley devices)")
    talk.add_argument("--output-device", help="speakers: index or name (parley devices)")
    talk.add_argument("--record", type=Path, help="write the call (both sides) to this WAV")
    talk.add_argument(
        "--no-echo-cancel",
        action="store_true",
        help="headphones: no echo to cancel or gate (docs/desktop.md)",
    )
    _provider_flags(talk)
    commands.add_parser("devices", help="list the microphones and speakers parley can use")
    call = commands.add_parser("call", help="phone a running server's Twilio endpoint, no phone")
    call.add_argument("wavs", type=Path, nargs="+", help="the caller's speech, one WAV a turn")
    call.add_argument("--url", default="ws://127.0.0.1:8000/twilio/media", help="media stream")
    call.add_argument("--barge-in", type=float, metavar="S", help="cut in after S s of answer")
    call.add_argument("--wait", type=float, default=30.0, help="longest wait for an answer (s)")
    call.add_argument("--record", type=Path, help="write what the caller heard to this WAV")
    call.add_argument("--settings", type=Path, help="settings file (for twilio.auth_token)")
    check = commands.add_parser("check", help="try each configured cloud provider, with timings")
    check.add_argument("--timeout", type=float, default=15.0, help="per provider (s)")
    _provider_flags(check)
    commands.add_parser("demo", help="a scripted call with fake providers, printed live")
    commands.add_parser("providers", help="list the providers that can be chosen by name")
    from parley.benchmarks.command import add_parser as add_bench_parser

    add_bench_parser(commands)
    args = parser.parse_args(argv)

    # Plain lines, never rich's highlighter: it took 22 s over one long URL (invariant 11).
    configure_logging("text", level=logging.DEBUG if args.verbose else logging.INFO)
    if args.command == "serve":
        return _serve(args)
    if args.command == "talk":
        return _talk(args, parser)
    if args.command == "devices":
        return _list_devices()
    if args.command == "call":
        from parley.server.routes.twilio import stream_key
        from parley.settings import load_settings
        from parley.testing.twilio_caller.call_command import run_call

        options = {"barge_in_after": args.barge_in, "wait": args.wait, "record": args.record}
        key = stream_key(load_settings(args.settings))
        caller = asyncio.run(run_call(args.url, args.wavs, key, console, **options))
        return 1 if caller.log.protocol_errors else 0
    if args.command == "check":
        return _check(args)
    if args.command == "demo":
        from parley.demo import run_demo

        asyncio.run(run_demo(console=console))
        return 0
    if args.command == "providers":
        return _list_providers()
    if args.command == "bench":
        from parley.benchmarks.command import run_command

        return run_command(args, console)
    return 2


def _serve(args: argparse.Namespace) -> int:
    from parley.server import create_app
    from parley.server.serve import run
    from parley.settings import load_settings

    names = ("host", "port", "vad", "stt", "llm", "tts", "log_format", "workers")
    settings = load_settings(args.settings, **{k: getattr(args, k) for k in names})
    configure_logging(settings.log_format, level=logging.DEBUG if args.verbose else logging.INFO)
    table = Table("kind", "provider", title="parley providers")
    for kind in ("vad", "stt", "llm", "tts"):
        table.add_row(kind, getattr(settings, kind))
    console.print(table)
    from parley.server.workers import default_workers, run_node

    try:
        settings.tools.toolbox()  # a [tools] function that cannot be imported fails here, once
    except ValueError as exc:
        console.print(f"[red]parley: {exc}[/]", markup=True, highlight=False)
        return 2
    workers = settings.workers or default_workers()
    if workers > 1:
        return run_node(settings, workers, verbose=args.verbose)
    run(create_app(settings), settings)
    return 0


def _talk(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from parley.settings import load_settings

    flags = {k: getattr(args, k) for k in ("vad", "stt", "llm", "tts")}
    settings = load_settings(args.settings, **flags)
    if args.question is not None or args.reply is not None:
        if args.question is None or args.reply is None:
            parser.error("talk: --in and --out go together")
        from parley.talk import run_talk

        return asyncio.run(run_talk(args.question, args.reply, settings, console))
    from parley.desktop.command import run_live

    # Log lines would scroll the call's picture away: warnings only, unless -v.
    if not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)
    return run_live(args, settings, console)


def _list_devices() -> int:
    from parley.desktop.command import list_devices

    return list_devices(console)


def _check(args: argparse.Namespace) -> int:
    from parley.check import render, run_checks
    from parley.settings import load_settings

    flags = {k: getattr(args, k) for k in ("vad", "stt", "llm", "tts")}
    settings = load_settings(args.settings, **flags)
    results = asyncio.run(run_checks(settings, args.timeout))
    if not results:
        console.print("No cloud provider is configured (see docs/providers.md).")
        return 0
    console.print(render(results))
    return 0 if all(r.ok for r in results) else 1


def _list_providers() -> int:
    from parley.providers import registry

    table = Table("kind", "names")
    for kind in (*registry.KINDS, "turn"):  # turn: optional, named by the policy
        table.add_row(kind, ", ".join(registry.names(kind)))
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
