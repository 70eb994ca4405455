"""PNG plots of a report (matplotlib, drawn off-screen, small files).

latency.png: each latency measure, parley beside Pipecat (bar to p50, line to p95, dot at
max). capacity.png: outbound frame lateness (p99), server CPU and memory against concurrent
calls. embedded.png: voice-to-voice of each turn with the embedded models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from parley.benchmarks.report import ROWS
from parley.benchmarks.results import BenchReport, Distribution

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
            p50s.append(p50 or 0.0)
            p95s.append(p95 or 0.0)
            maxes.append(top or 0.0)
        xs = list(range(len(names)))
        ax.bar(xs, p50s, color=[COLORS.get(n, "grey") for n in names], width=0.6)
        ax.vlines(xs, p50s, p95s, color="black", linewidth=1.5)
        ax.plot(xs, maxes, "k.", markersize=5)
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
        late.plot(calls, [lv.lateness.p99 or 0.0 for lv in levels], "o-", color=color, label=name)
        cpu.plot(calls, [lv.cpu_percent for lv in levels], "o-", color=color, label=name)
        rss.plot(calls, [lv.peak_rss_mb for lv in levels], "o-", color=color, label=name)
    late.axhline(20, color="red", linestyle="--", linewidth=1, label="20 ms limit")
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
    values = [v or 0.0 for v in report.embedded.per_turn_ms]
    fig, ax = plt.subplots(figsize=(8, 3), dpi=DPI)
    ax.bar(range(1, len(values) + 1), values, color=COLORS["parley"])
    p50 = report.embedded.voice_to_voice.p50
    if p50 is not None:
        ax.axhline(p50, color="black", linestyle="--", linewidth=1, label=f"p50 {p50:.0f} ms")
        ax.legend(fontsize=8)
    ax.set_xlabel("turn", fontsize=8)
    ax.set_ylabel("voice-to-voice (ms)", fontsize=8)
    ax.set_title("parley, embedded models over Twilio: voice-to-voice per turn", fontsize=9)
    ax.tick_params(labelsize=8)
    return _save(fig, path)


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
