"""`parley bench --records`: what keeping call records costs. Barge-in, voice-to-voice and
capacity, each run for parley with records off, then on (SQLite in the work folder, the
`parley serve` default), one server at a time; written to records.json and records.md.

The issue's bar: barge-in and voice-to-voice change by no more than noise, capacity by at
most 5%. The report states each figure both ways and the change; it judges only capacity.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from parley.benchmarks.capacity import Progress, capacity
from parley.benchmarks.plan import Setup
from parley.benchmarks.results import BargeIn, Capacity, Distribution, Overhead
from parley.benchmarks.scenarios import barge_in, overhead
from parley.benchmarks.spec import Latencies

CAPACITY_BAR = 0.05  # the issue: records may cost at most 5% of capacity


class RecordsSide(BaseModel):
    barge_in: BargeIn | None = None
    overhead: Overhead | None = None
    capacity: Capacity | None = None


class RecordsReport(BaseModel):
    started: str
    duration_s: float
    quick: bool
    latencies: Latencies
    off: RecordsSide
    on: RecordsSide
    errors: list[str]


async def compare(setup: Setup, progress: Progress, max_calls: int | None = None) -> RecordsReport:
    """Each part with records off then on; a part that fails is noted and the run goes on."""
    started, clock = datetime.now(UTC), time.monotonic()
    sides = {False: RecordsSide(), True: RecordsSide()}
    errors: list[str] = []
    for part in ("barge_in", "overhead", "capacity"):
        for records in (False, True):
            which = "on" if records else "off"
            elapsed = time.monotonic() - clock
            progress(f"records {which}: {part.replace('_', ' ')} ({elapsed:.0f} s in)")
            side = replace(setup, records=records)
            try:
                if part == "barge_in":
                    sides[records].barge_in = await barge_in(side)
                elif part == "overhead":
                    sides[records].overhead = await overhead(side)
                else:
                    sides[records].capacity = await capacity(side, progress, max_calls)
            except Exception as exc:
                errors.append(f"records {which} {part} failed: {type(exc).__name__}: {exc}")
                progress(errors[-1])
    return RecordsReport(
        started=started.strftime("%Y-%m-%d %H:%M UTC"),
        duration_s=time.monotonic() - clock,
        quick=setup.plan.capacity_levels == [2],
        latencies=setup.latencies,
        off=sides[False],
        on=sides[True],
        errors=errors,
    )


def markdown(report: RecordsReport) -> str:
    off, on = report.off, report.on
    rows = [
        ("barge-in: speech onset to clear",
         _dist(off.barge_in.to_clear if off.barge_in else None),
         _dist(on.barge_in.to_clear if on.barge_in else None)),
        ("voice-to-voice",
         _dist(off.overhead.voice_to_voice if off.overhead else None),
         _dist(on.overhead.voice_to_voice if on.overhead else None)),
    ]  # fmt: skip
    lines = [
        f"# Call records on vs off ({'quick run, not for timing' if report.quick else 'default'})",
        "",
        "| measure | records off p50 · p95 (n) | records on p50 · p95 (n) | change p50 · p95 |",
        "|---|---|---|---|",
    ]
    for label, (a50, a95, an), (b50, b95, bn) in rows:
        lines.append(
            f"| {label} | {_ms(a50)} · {_ms(a95)} ({an}) | {_ms(b50)} · {_ms(b95)} ({bn}) "
            f"| {_delta(a50, b50)} · {_delta(a95, b95)} |"
        )
    cap_off = off.capacity.capacity if off.capacity else None
    cap_on = on.capacity.capacity if on.capacity else None
    change = _cap(cap_off, cap_on)
    lines.append(f"| capacity (concurrent calls) | {cap_off} | {cap_on} | {change} |")
    lines += ["", f"Run {report.started}, {report.duration_s / 60:.1f} min; records on: SQLite "
              "(WAL) in the work folder, as `parley serve` keeps them by default."]  # fmt: skip
    lines += [f"- {error}" for error in report.errors]
    return "\n".join(lines) + "\n"


def write(report: RecordsReport, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "records.json", out / "records.md"
    json_path.write_text(report.model_dump_json(indent=2) + "\n")
    md_path.write_text(markdown(report))
    return [json_path, md_path]


def _dist(stat: Distribution | None) -> tuple[float | None, float | None, int]:
    if stat is None:
        return None, None, 0
    return stat.p50, stat.p95, stat.n


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


def _delta(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return "–"
    return f"{after - before:+.0f} ms"


def _cap(off: int | None, on: int | None) -> str:
    if off is None or on is None or off <= 0:
        return "–"
    change = (on - off) / off
    verdict = "within" if change >= -CAPACITY_BAR else "past"
    return f"{change:+.1%} ({verdict} the 5% bar)"
