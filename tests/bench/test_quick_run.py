"""The benchmark harness end to end: `parley bench --vs pipecat --quick` (about a minute).

A smoke run: every scenario against both servers, the embedded models, the report files.
Timings are checked only against bounds nothing sane can miss (nobody answers faster than
the providers' stated latencies; parley closes a hung session within its 2 s deadline).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from parley.benchmarks.results import BenchReport
from parley.benchmarks.run import BenchOptions, run_bench

pytestmark = pytest.mark.slow  # real models, real servers, real time


def test_a_quick_run_measures_both_frameworks_and_writes_the_report(tmp_path: Path) -> None:
    lines: list[str] = []
    options = BenchOptions(vs_pipecat=True, quick=True, out=tmp_path)
    report, written = asyncio.run(run_bench(options, lines.append))
    failures = [note for note in report.notes if " failed: " in note]
    assert failures == [], failures

    for name in ("parley", "pipecat"):
        results = report.results[name]
        assert results.barge_in and results.input_gap and results.hangup
        assert results.overhead and results.capacity
        barge_in = results.barge_in
        assert barge_in.to_clear.n == 1 and barge_in.without_clear == 0, (name, barge_in)
        assert barge_in.to_clear.p50 is not None and 0 < barge_in.to_clear.p50 < 3000
        gap = results.input_gap
        assert gap.max_gap_ms is not None and gap.max_gap_ms >= 19  # frames are 20 ms apart
        assert gap.stt_frames > 50
        assert results.hangup.closed.n == 1 and results.hangup.not_closed == 0
        v2v = results.overhead.voice_to_voice
        stated = results.overhead.stated_ms
        assert v2v.n == 2 and v2v.p50 is not None and stated < v2v.p50 < stated + 2000, v2v
        level = results.capacity.levels[0]
        assert level.calls == 2 and level.answered == level.utterances == 2, level
        assert results.capacity.memory_per_call_mb is None  # one level: no slope to take

    parley_hangup = report.results["parley"].hangup
    assert parley_hangup is not None and parley_hangup.closed.max is not None
    assert parley_hangup.closed.max < 3500  # 2 s deadline, with room for a busy machine

    assert report.embedded is not None and report.embedded.voice_to_voice.n == 1
    assert report.embedded.error is None

    names = sorted(p.name for p in written)
    assert names == ["capacity.png", "embedded.png", "latency.png", "results.json", "results.md"]
    for png in tmp_path.glob("*.png"):
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) < 200_000
    reread = BenchReport.model_validate(json.loads((tmp_path / "results.json").read_text()))
    assert reread.results["pipecat"].version == "1.14.0"
    table = (tmp_path / "results.md").read_text()
    assert "| Barge-in: onset of speech to `clear` at the caller |" in table
    assert table.count("×") >= 10  # a ratio in every row
    assert any("capacity: pipecat" in line for line in lines)
