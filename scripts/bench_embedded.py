"""`parley bench`'s embedded part with a chosen number of turns, and every turn's stages.

    PYTHONPATH=src python scripts/bench_embedded.py [--turns 8] [--json out.json]

The same call as `parley bench --only embedded` (a Twilio caller asking the bench questions
in Piper's voice, the server on its embedded models, replies capped at 24 tokens), but with
fewer turns, so a before and an after can run back to back on a shared machine, and with the
distribution of each stage rather than its median.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
from pathlib import Path

from parley.benchmarks.embedded import STAGES, embedded
from parley.benchmarks.events import read_events
from parley.benchmarks.plan import Plan, Setup
from parley.benchmarks.spec import Latencies
from parley.conversation.policy import TurnTakingPolicy


def summary(values: list[float]) -> str:
    v = sorted(values)
    p95 = v[min(len(v) - 1, round(0.95 * (len(v) - 1)))]
    return f"p50 {statistics.median(v):5.0f}  p95 {p95:5.0f}  max {v[-1]:5.0f} ms (n={len(v)})"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        plan = Plan(embedded_turns=args.turns)
        setup = Setup("parley", workdir, Latencies(), TurnTakingPolicy(), plan)
        result = await embedded(setup, print)
        records = [e["timings"] for e in read_events(workdir / "parley-embedded.events.jsonl")
                   if e["event"] == "turn"]  # fmt: skip
    stages: dict[str, list[float]] = {}
    for label, start, end in STAGES:
        stages[label] = [1000 * (r[end] - r[start]) for r in records
                         if r[start] is not None and r[end] is not None]  # fmt: skip
    v2v = [v for v in result.per_turn_ms if v is not None]
    # The caller asks its next question once the agent has been quiet for 0.6 s: on a machine
    # too busy to keep up, a pause inside an answer makes it barge in.
    interrupted = sum(r["interruption_decided"] is not None for r in records)
    print(f"turns: {len(records)} recorded, {interrupted} interrupted by the caller")
    if result.error:
        print("error:", result.error)
    print(f"voice-to-voice at the caller        {summary(v2v)}")
    for label, values in stages.items():
        if values:
            print(f"{label:35} {summary(values)}")
    if args.json:
        report = {"voice_to_voice_ms": v2v, "stages_ms": stages, "interrupted": interrupted}
        args.json.write_text(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
