"""A quick soak: 20 calls for a minute against a real server process with the fakes.

Memory must stay about flat once warm, and after every call hangs up the server must be back
to the tasks and fds it had before the first call (nothing left behind per call). The bounds
are generous: the machine is shared, and a minute is short for an allocator to settle; the
full run (`parley bench --soak`, 50 calls, 10 minutes) is where the 5% goal is measured.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from parley.benchmarks import plots
from parley.benchmarks.soak import SoakOptions, soak

pytestmark = pytest.mark.slow  # a real server process, real time: about 90 s


def test_a_quick_soak_stays_flat_and_leaves_nothing_behind(tmp_path: Path) -> None:
    options = SoakOptions(
        calls=20, duration_s=60, warmup_s=20, interval_s=2, settle_s=10, cycles=2,
        workdir=tmp_path,
    )  # fmt: skip
    lines: list[str] = []
    result = asyncio.run(soak(options, lines.append))
    assert plots.soak(result, tmp_path / "soak.png").stat().st_size > 10_000

    assert result.calls_placed >= 20 and result.utterances >= 40, result.errors
    assert result.answered >= 0.9 * result.utterances, result.errors
    assert result.barge_ins >= 20
    assert result.sessions_after == 0
    assert abs(result.growth_percent) < 15, result.growth_percent
    assert result.after_rss_mb < result.warm_rss_mb * 1.15
    assert result.idle_tasks is not None and result.after_tasks is not None
    assert result.after_tasks <= result.idle_tasks + 2, (result.idle_tasks, result.after_tasks)
    assert result.after_fds <= result.idle_fds + 2, (result.idle_fds, result.after_fds)
