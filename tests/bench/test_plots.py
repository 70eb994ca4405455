"""The plots draw what was not measured as nothing, labelled "n/a", never as a zero."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from parley.benchmarks import plots
from parley.benchmarks.report import ROWS, machine
from parley.benchmarks.results import (
    BenchReport,
    Capacity,
    CapacityLevel,
    Distribution,
    Embedded,
    FrameworkResults,
    Hangup,
)
from parley.benchmarks.spec import Latencies

pytest.importorskip("matplotlib")


def level(calls: int, lateness: Distribution) -> CapacityLevel:
    return CapacityLevel(calls=calls, lateness=lateness, answered=calls, utterances=calls,
                         voice_to_voice=Distribution(n=0), peak_rss_mb=100 + calls,
                         rss_before_mb=100, cpu_percent=10.0 * calls, caller_lateness_p99_ms=1.0,
                         errors=0, smooth=True, passed=True, harness_limited=False)  # fmt: skip


def test_missing_values_are_nan_and_labelled_not_zero(tmp_path: Path) -> None:
    hangup = Hangup(close_hang_s=10, closed=Distribution.of_seconds([1.9, 2.0]), not_closed=0,
                    waited_s=30)  # fmt: skip
    capacity = Capacity(criterion="c", levels=[level(1, Distribution.of_seconds([0.0, 0.001])),
                        level(2, Distribution(n=0))], capacity=2, lower_bound=True,
                        memory_per_call_mb=1.0, idle_rss_mb=100)  # fmt: skip
    report = BenchReport(
        mode="test", started="now", duration_s=1, machine=machine(), latencies=Latencies(),
        policy={}, notes=[],
        results={
            "parley": FrameworkResults(framework="parley", version="0", hangup=hangup,
                                       capacity=capacity),
            "pipecat": FrameworkResults(framework="pipecat", version="1"),  # nothing measured
        },
        embedded=Embedded(turns=2, voice_to_voice=Distribution.of_seconds([1.2]),
                          per_turn_ms=[1200.0, None], stages_p50_ms={}, models={}),
    )  # fmt: skip
    texts: list[str] = []
    label = plots._not_measured

    def spy(ax: Any, xs: Sequence[float], values: Sequence[float]) -> None:
        texts.extend("n/a" for v in values if math.isnan(v))
        label(ax, xs, values)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(plots, "_not_measured", spy)
            written = plots.draw(report, tmp_path)
    assert sorted(p.name for p in written) == ["capacity.png", "embedded.png", "latency.png"]
    # every latency of Pipecat's, all but the hangup of parley's, one capacity level, one turn
    latencies = sum(1 for row in ROWS if row.unit == "ms")
    assert len(texts) == latencies + (latencies - 1) + 1 + 1
