"""`parley bench --records`, quick: each part with records off and on, the on side's servers
really writing records, and the report. Checks, not timing (the lead runs the full figures)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from parley.benchmarks import records
from parley.benchmarks.plan import QUICK, Setup
from parley.benchmarks.spec import Latencies
from parley.conversation.policy import TurnTakingPolicy
from parley.records.store import Store

pytestmark = pytest.mark.slow  # real servers in real time, about a minute


async def calls_in(folder: Path) -> int:
    store = Store(f"sqlite+aiosqlite:///{folder / 'parley.db'}")
    try:
        return len(await store.list_calls(limit=100))
    finally:
        await store.aclose()


def test_records_on_and_off_are_both_measured(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    setup = Setup("parley", work, Latencies(), TurnTakingPolicy(), QUICK)
    lines: list[str] = []
    report = asyncio.run(records.compare(setup, lines.append))
    assert report.errors == [] and report.quick
    for side in (report.off, report.on):
        assert side.barge_in is not None and side.barge_in.to_clear.n == 1
        assert side.overhead is not None and side.overhead.voice_to_voice.n == 2
        assert side.capacity is not None and side.capacity.levels[0].calls == 2
    # Only the records-on servers kept records: one folder per part, each with its calls.
    folders = sorted(p.name for p in work.glob("*.records"))
    assert folders == [f"parley-records-{s}.records" for s in ("barge-in", "capacity", "overhead")]
    assert asyncio.run(calls_in(work / "parley-records-capacity.records")) == 2

    written = records.write(report, tmp_path / "out")
    text = (tmp_path / "out" / "records.md").read_text()
    assert [p.name for p in written] == ["records.json", "records.md"]
    assert "| voice-to-voice |" in text and "| capacity (concurrent calls) | 2 | 2 | +0.0%" in text
