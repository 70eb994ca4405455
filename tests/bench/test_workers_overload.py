"""`parley bench --only capacity,overload --workers 1,2 --quick`: the options at a tiny scale
(checks, not timing: a couple of calls), the report naming both worker counts and the
overload run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from parley.benchmarks.overload import OVERLOAD_TURNS
from parley.benchmarks.report import markdown
from parley.benchmarks.run import BenchOptions, run_bench

pytestmark = pytest.mark.slow  # real servers, real time


def test_capacity_by_workers_and_an_overload_run(tmp_path: Path) -> None:
    lines: list[str] = []
    options = BenchOptions(
        quick=True, only=["capacity", "overload"], workers=[1, 2], embedded=False, out=tmp_path
    )
    report, _ = asyncio.run(run_bench(options, lines.append))
    failures = [note for note in report.notes if " failed: " in note]
    assert failures == [], failures
    parley = report.results["parley"]
    assert parley.capacity is not None and parley.capacity.workers == 1
    assert [c.workers for c in parley.capacity_workers] == [2]
    two = parley.capacity_workers[0]
    assert two.levels[0].calls == 2 and two.levels[0].answered == 2, two
    assert any("parley (2 workers): 2 calls" in line for line in lines), lines

    overload = parley.overload
    assert overload is not None, report.notes
    assert overload.workers == 2 and overload.capacity == two.capacity == 2
    assert overload.max_sessions == 1 and overload.offered == 3
    assert overload.accepted + overload.refused_webhook + overload.refused_stream == 3
    assert 1 <= overload.accepted <= 2 and overload.refusal.n >= 1
    assert overload.answered == overload.utterances == OVERLOAD_TURNS * overload.accepted
    assert overload.refusal.max is not None and overload.refusal.max < 2000  # not timing here

    text = markdown(report)
    assert "parley's capacity by `--workers`: 1 worker: 2 calls; 2 workers: 2 calls." in text
    assert "**Overload** (admission control at 2 calls, 1 per worker of 2): 3 calls offered" in (
        text
    )
    assert "| parley (2 workers) | 2 |" in text
