"""Re-rendering a report from its results.json: derived figures and notes from the current
code, the measurements untouched, nothing run."""

from __future__ import annotations

from pathlib import Path

from parley.benchmarks import report
from parley.benchmarks.plan import DEFAULT
from parley.benchmarks.results import (
    BenchReport,
    Capacity,
    CapacityLevel,
    Distribution,
    FrameworkResults,
)
from parley.benchmarks.run import _notes, rerender
from parley.benchmarks.spec import Latencies


def level(calls: int, rss_mb: float, passed: bool = True) -> CapacityLevel:
    return CapacityLevel(calls=calls, lateness=Distribution.of_seconds([0.0, 0.0]),
                         answered=calls, utterances=calls, voice_to_voice=Distribution(n=0),
                         peak_rss_mb=rss_mb, rss_before_mb=0, cpu_percent=10,
                         caller_lateness_p99_ms=1.0, errors=0, smooth=passed, passed=passed,
                         harness_limited=False)  # fmt: skip


def test_a_report_is_rewritten_from_its_json_with_the_current_derivations(tmp_path: Path) -> None:
    levels = [level(1, 100.0), level(11, 120.0), level(21, 200.0, passed=False)]
    capacity = Capacity(criterion="c", levels=levels, capacity=11, lower_bound=False,
                        memory_per_call_mb=99.0, idle_rss_mb=90.0)  # fmt: skip
    failure = "pipecat hangup failed: TimeoutError: "
    old = BenchReport(
        mode="default", started="then", duration_s=540, machine=report.machine(),
        latencies=Latencies(), policy={"vad_threshold": 0.5, "min_interruption_ms": 80,
                                       "min_silence_ms": 500, "merge_gap_ms": 200},
        notes=["an old set-up note", failure],
        results={"parley": FrameworkResults(framework="parley", version="0", capacity=capacity)},
    )  # fmt: skip
    report.write(old, tmp_path)

    lines: list[str] = []
    new, written = rerender(tmp_path, lines.append)

    assert sorted(p.name for p in written) == [
        "capacity.png", "latency.png", "results.json", "results.md"
    ]  # fmt: skip
    reread = BenchReport.model_validate_json((tmp_path / "results.json").read_text())
    assert reread == new
    assert reread.results["parley"].capacity is not None
    assert reread.results["parley"].capacity.memory_per_call_mb == 2.0  # (120 - 100) / 10
    assert reread.notes == [*_notes(DEFAULT), failure]
    assert reread.results["parley"].capacity.levels == levels  # the measurements as they were
    assert (reread.started, reread.duration_s) == ("then", 540)
    assert "| 2.0 MB |" in (tmp_path / "results.md").read_text()
