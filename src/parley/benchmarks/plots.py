"""PNG plots of a report (matplotlib, drawn off-screen, small files).

latency.png: each latency measure, parley beside Pipecat (bar to p50, line to p95, dot at
max). capacity.png: outbound frame lateness (p99), server CPU and memory against concurrent
calls. embedded.png: voice-to-voice of each turn with the embedded models. soak.png: the
server's memory, fds, tasks and event-loop lag over a soak run, and after its hang-up.

A value that was not measured is NaN, so nothing is drawn for it (a 0 would look like the
best result), and "n/a" is written at the foot of the axes where it would have been.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from parley.benchmarks.capacity import SMOOTH_MS
from parley.benchmarks.report import ROWS
from parley.benchmarks.results import BenchReport, Distribution
from parley.benchmarks.soak_results import Soak

COLORS = {"parley": "#2a7ab0", "pipecat": "#d9822b"}
DPI = 80


def draw(report: BenchReport, out: Path) -> list[Path]:
    """Draw every plot the report has data for; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    written = [_latency(report, out / "latency.png")]
    if any(r.capacity for r in report.results.values()):
        written.append(_capacity(report, out / "capacity.png"))
    if report.embedded is not None and report.embedded.voice_to_voice.n:
        written.append(_embedded(report, out / "embedded.png"))
    return written


def _latency(report: BenchReport, path: Path) -> Path:
    import matplotlib.pyplot as plt

    rows = [r for r in ROWS if r.unit == "ms"]
    fig, axes = plt.subplots(2, (len(rows) + 1) // 2, figsize=(12, 5.2), dpi=DPI)
    for ax, row in zip(axes.flat, rows, strict=False):
        names, p50s, p95s, maxes = [], [], [], []
        for name, results in report.results.items():
            stat = row.value(results)
            if isinstance(stat, Distribution):
                p50, p95, top = stat.p50, stat.p95, stat.max
            else:
                p50 = p95 = top = None if stat is None else float(stat)
            names.append(name)
            p50s.append(_value(p50))
            p95s.append(_value(p95))
            maxes.append(_value(top))
        xs = list(range(len(names)))
        ax.bar(xs, p50s, color=[COLORS.get(n, "grey") for n in names], width=0.6)
        ax.vlines(xs, p50s, p95s, color="black", linewidth=1.5)
        ax.plot(xs, maxes, "k.", markersize=5)
        _not_measured(ax, xs, p50s)
        ax.set_xlim(-0.6, len(xs) - 0.4)
        ax.set_xticks(xs, names)
        ax.set_title(_wrap(row.label), fontsize=8)
        ax.set_ylabel("ms", fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(rows) :]:
        ax.set_visible(False)
    fig.suptitle("parley vs Pipecat, fake providers (bar: p50, line: p95, dot: max)", fontsize=10)
    return _save(fig, path)


def _capacity(report: BenchReport, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, (late, cpu, rss) = plt.subplots(1, 3, figsize=(12, 3.6), dpi=DPI)
    for name, results in report.results.items():
        if results.capacity is None:
            continue
        levels = sorted(results.capacity.levels, key=lambda lv: lv.calls)
        calls = [lv.calls for lv in levels]
        color = COLORS.get(name, "grey")
        lateness = [_value(lv.lateness.p99) for lv in levels]
        late.plot(calls, lateness, "o-", color=color, label=name)
        _not_measured(late, calls, lateness)
        cpu.plot(calls, [lv.cpu_percent for lv in levels], "o-", color=color, label=name)
        rss.plot(calls, [lv.peak_rss_mb for lv in levels], "o-", color=color, label=name)
    late.axhline(SMOOTH_MS, color="red", linestyle="--", linewidth=1,
                 label=f"{SMOOTH_MS:g} ms limit")  # fmt: skip
    late.set_title("p99 lateness of outbound frames (ms)", fontsize=9)
    cpu.set_title("server CPU (% of one core)", fontsize=9)
    rss.set_title("server resident memory (MB)", fontsize=9)
    for ax in (late, cpu, rss):
        ax.set_xlabel("concurrent calls", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=8)
    return _save(fig, path)


def _embedded(report: BenchReport, path: Path) -> Path:
    import matplotlib.pyplot as plt

    assert report.embedded is not None
    values = [_value(v) for v in report.embedded.per_turn_ms]
    turns = list(range(1, len(values) + 1))
    fig, ax = plt.subplots(figsize=(8, 3), dpi=DPI)
    ax.bar(turns, values, color=COLORS["parley"])
    _not_measured(ax, turns, values)
    ax.set_xlim(0.4, len(values) + 0.6)
    p50 = report.embedded.voice_to_voice.p50
    if p50 is not None:
        ax.axhline(p50, color="black", linestyle="--", linewidth=1, label=f"p50 {p50:.0f} ms")
        ax.legend(fontsize=8)
    ax.set_xlabel("turn", fontsize=8)
    ax.set_ylabel("voice-to-voice (ms)", fontsize=8)
    ax.set_title("parley, embedded models over Twilio: voice-to-voice per turn", fontsize=9)
    ax.tick_params(labelsize=8)
    return _save(fig, path)


def soak(result: Soak, path: Path) -> Path:
    """soak.png: four panels over time; the dashed line is the hang-up."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = result.samples
    t = [s.t / 60 for s in samples]
    fig, ((rss, fds), (tasks, lag)) = plt.subplots(2, 2, figsize=(12, 6.4), dpi=DPI)
    color = COLORS["parley"]
    rss.plot(t, [s.rss_mb for s in samples], ".-", color=color, label="server")
    if any(s.children_rss_mb for s in samples):
        rss.plot(t, [s.children_rss_mb for s in samples], ".-", color="grey",
                 label="its child processes")  # fmt: skip
    rss.axhline(result.warm_rss_mb, color="black", linestyle=":", linewidth=1,
                label=f"warm {result.warm_rss_mb:.1f} MB")  # fmt: skip
    rss.set_title(f"resident memory (MB): {result.growth_percent:+.1f}% warm to end, "
                  f"{result.after_vs_warm_percent:+.1f}% after hang-up", fontsize=9)  # fmt: skip
    fds.plot(t, [s.fds for s in samples], ".-", color=color)
    fds.set_title("open file descriptors", fontsize=9)
    tasks.plot(t, [_value(s.tasks) for s in samples], ".-", color=color, label="asyncio tasks")
    tasks.plot(t, [_value(s.sessions) for s in samples], ".-", color="grey", label="sessions")
    tasks.set_title("asyncio tasks and sessions", fontsize=9)
    lag.plot(t, [_value(s.loop_lag_ms) for s in samples], ".-", color=color,
             label="worst event-loop lag (ms)")  # fmt: skip
    lag.plot(t, [s.cpu_percent for s in samples], ".-", color="grey", label="server CPU (%)")
    lag.plot(t, [100 * s.load_average for s in samples], ":", color="red",
             label="machine load x100")  # fmt: skip
    lag.set_title("event-loop lag, CPU and machine load", fontsize=9)
    hangup = max((s.t for s in samples if s.phase == "calls"), default=0.0) / 60
    for ax in (rss, fds, tasks, lag):
        ax.axvline(hangup, color="red", linestyle="--", linewidth=1)
        ax.set_xlabel("minutes since the calls started", fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in (rss, tasks, lag):
        ax.legend(fontsize=7)
    fig.suptitle(f"parley soak: {result.calls} calls, {result.duration_s / 60:g} min, "
                 f"{result.providers} providers", fontsize=10)  # fmt: skip
    return _save(fig, path)


def _value(value: float | None) -> float:
    """A measured value, or NaN (drawn as nothing) when there is none."""
    return math.nan if value is None else float(value)


def _not_measured(ax: Any, xs: Sequence[float], values: Sequence[float]) -> None:
    """Write "n/a" at the foot of the axes wherever a value is missing."""
    missing = [x for x, value in zip(xs, values, strict=True) if math.isnan(value)]
    for x in missing:
        ax.text(x, 0.02, "n/a", transform=ax.get_xaxis_transform(), ha="center",
                va="bottom", fontsize=8, color="dimgrey")  # fmt: skip
    if missing:  # keep the labels' places in view: NaN points do not widen the axes
        ax.update_datalim([(x, 0.0) for x in missing])
        ax.autoscale_view()
    if len(missing) == len(values):  # nothing measured: no scale to read
        ax.set_yticks([])


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _wrap(text: str, width: int = 38) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])
