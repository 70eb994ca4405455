"""The `parley` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Sequence

from rich.logging import RichHandler


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every turn's timings")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="a scripted call with fake providers, printed live")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(show_path=False)],
    )
    if args.command == "demo":
        from parley.demo import run_demo

        asyncio.run(run_demo())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
