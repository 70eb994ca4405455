"""The report: JSON (everything), a markdown table (the summary) and the machine it ran on.

Every parley figure sits beside Pipecat's, with their ratio (parley ÷ Pipecat): below 1 is
better for times and memory, above 1 for capacity.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parley.benchmarks.results import (
    BenchReport,
    Distribution,
    FrameworkResults,
    Machine,
)

Stat = Distribution | float | int | None


@dataclass(frozen=True)
class Row:
    label: str
    value: Callable[[FrameworkResults], Stat]
    unit: str = "ms"  # "ms" for durations; anything else is printed after the number
    detail: Callable[[FrameworkResults], str] | None = None  # said after the value

    def cell(self, results: FrameworkResults) -> str:
        text = fmt(self.value(results), self.unit)
        extra = self.detail(results) if self.detail else ""
        return f"{text} {extra}" if extra and text != "–" else text


def _caller_gap(results: FrameworkResults) -> str:
    """The caller's own longest gap: no gap downstream can be shorter."""
    gap = results.input_gap.caller_max_send_gap_ms if results.input_gap else None
    return "" if gap is None else f"(caller's own: {gap:.0f} ms)"


def _get(section: str, field: str, *more: str) -> Callable[[FrameworkResults], Stat]:
    def value(results: FrameworkResults) -> Stat:
        current: object = getattr(results, section)
        for name in (field, *more):
            if current is None:
                return None
            current = getattr(current, name)
        return current if isinstance(current, Distribution | float | int) else None

    return value


ROWS = (
    Row("Barge-in: onset of speech to `clear` at the caller", _get("barge_in", "to_clear")),
    Row("Barge-in: onset to the last old audio heard", _get("barge_in", "to_last_heard")),
    Row("Input gap: longest gap between frames reaching STT, TTS close hanging",
        _get("input_gap", "max_gap_ms"), detail=_caller_gap),
    Row("… same call: onset of the barge-in to `clear`", _get("input_gap", "barge_in_to_clear_ms")),
    Row("… same call: end of the barge-in to the answer's first audio",
        _get("input_gap", "answer_after_barge_in_ms")),
    Row("Hangup: `stop` to session fully closed, LLM and TTS hanging", _get("hangup", "closed")),
    Row("Voice-to-voice at the caller (fake providers)", _get("overhead", "voice_to_voice")),
    Row("Overhead: voice-to-voice minus stated provider time and silence",
        _get("overhead", "overhead")),
    Row("Capacity: concurrent calls, smooth audio, every call answered",
        _get("capacity", "capacity"), "calls"),
    Row("Memory per added call (server RSS slope, 1 call to the highest level passed)",
        _get("capacity", "memory_per_call_mb"), "MB"),
)  # fmt: skip


def machine() -> Machine:
    cpu = platform.processor() or platform.machine()
    try:
        info = Path("/proc/cpuinfo").read_text()
        cpu = next(line.split(":", 1)[1].strip() for line in info.splitlines()
                   if line.startswith("model name"))  # fmt: skip
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return Machine(
        cpu=cpu,
        cores=os.cpu_count() or 0,
        memory_gb=round(memory, 1),
        system=platform.platform(),
        python=platform.python_version(),
    )


def fmt(stat: Stat, unit: str = "ms", *, full: bool = True) -> str:
    """A distribution as "p50 · p95 · p99 · max" (or its p50 alone), a number with its unit."""
    if stat is None:
        return "–"
    if isinstance(stat, Distribution):
        if stat.n == 0 or stat.p50 is None:
            return "–"
        values = [stat.p50, stat.p95, stat.p99, stat.max] if full and stat.n > 1 else [stat.p50]
        return " · ".join(_duration(v) for v in values) + f" (n={stat.n})"
    if unit == "ms":
        return _duration(float(stat))
    return f"{stat:.1f} {unit}" if isinstance(stat, float) else f"{stat} {unit}"


def _duration(ms: float | None) -> str:
    if ms is None:
        return "–"
    if abs(ms) >= 1000:
        return f"{ms / 1000:.2f} s"
    return f"{ms:.0f} ms"


def ratio(ours: Stat, theirs: Stat) -> str:
    """parley ÷ Pipecat, at p50 and p95 for distributions."""
    if isinstance(ours, Distribution) and isinstance(theirs, Distribution):
        pairs = [(ours.p50, theirs.p50), (ours.p95, theirs.p95)]
        if ours.n <= 1 or theirs.n <= 1:
            pairs = pairs[:1]
        parts = [_ratio(a, b) for a, b in pairs]
        return " · ".join(parts)
    if isinstance(ours, int | float) and isinstance(theirs, int | float):
        return _ratio(float(ours), float(theirs))
    return "–"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0 or a < 0:
        return "–"
    return f"{a / b:.2f}×"


def markdown(report: BenchReport) -> str:
    parley = report.results["parley"]
    pipecat = report.results.get("pipecat")
    lines = [f"# parley benchmark ({report.mode})", ""]
    if pipecat is not None:
        lines += [
            "| measure | parley p50 · p95 · p99 · max | Pipecat p50 · p95 · p99 · max "
            "| parley ÷ Pipecat (p50 · p95) |",
            "|---|---|---|---|",
        ]
        for row in ROWS:
            ours, theirs = row.value(parley), row.value(pipecat)
            lines.append(f"| {row.label} | {row.cell(parley)} | {row.cell(pipecat)} "
                         f"| {ratio(ours, theirs)} |")  # fmt: skip
    else:
        lines += ["| measure | parley p50 · p95 · p99 · max |", "|---|---|"]
        lines += [f"| {row.label} | {row.cell(parley)} |" for row in ROWS]
    lines += _capacity_levels(report)
    lines += _overload(report)
    if report.embedded is not None:
        embedded = report.embedded
        models = ", ".join(embedded.models.values())
        lines += [
            "",
            f"**parley with the embedded models over Twilio** ({models}): "
            f"voice-to-voice {fmt(embedded.voice_to_voice)}. Stages, p50: "
            + "; ".join(f"{k} {v:.0f} ms" for k, v in embedded.stages_p50_ms.items())
            + ".",
        ]
    lines += ["", _setup(report), ""]
    lines += [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def _capacity_levels(report: BenchReport) -> list[str]:
    runs = [
        (name if c.workers == 1 else f"{name} ({c.workers} workers)", c)
        for name, results in report.results.items()
        for c in ([results.capacity] if results.capacity is not None else [])
        + results.capacity_workers
    ]
    rows = [
        f"| {name} | {lv.calls} | {fmt(lv.lateness.p99)} | {lv.answered}/{lv.utterances} "
        f"| {fmt(lv.voice_to_voice.p50)} | {lv.cpu_percent:.0f}% | {lv.peak_rss_mb:.0f} MB "
        f"| {fmt(lv.caller_lateness_p99_ms)} | {'yes' if lv.passed else 'no'} |"
        for name, run in runs
        for lv in run.levels
    ]
    if not rows:
        return []
    bounds = [
        f"{name}'s capacity is a lower bound: "
        + ("every level passed." if results.capacity.levels[-1].passed else
           "at the level that failed, the callers themselves fell behind.")
        for name, results in report.results.items()
        if results.capacity is not None and results.capacity.lower_bound
    ]  # fmt: skip
    by_workers = [
        f"{c.workers} worker{'s' if c.workers > 1 else ''}: {c.capacity} calls"
        for c in ([report.results["parley"].capacity] if "parley" in report.results and
                  report.results["parley"].capacity is not None else [])
        + (report.results["parley"].capacity_workers if "parley" in report.results else [])
    ]  # fmt: skip
    summary = (
        ["", "parley's capacity by `--workers`: " + "; ".join(by_workers) + "."]
        if len(by_workers) > 1
        else []
    )
    return [
        *summary,
        "",
        "Capacity, level by level (the callers' own send lateness shows when the harness, "
        "not the server, was short of CPU):",
        "",
        "| server | calls | p99 frame lateness | answered | voice-to-voice p50 | server CPU "
        "| server RSS | callers' p99 send lateness | passed |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        *(["", " ".join(bounds)] if bounds else []),
    ]


def _overload(report: BenchReport) -> list[str]:
    parley = report.results.get("parley")
    run = parley.overload if parley is not None else None
    if run is None:
        return []
    return [
        "",
        f"**Overload** (admission control at {run.capacity} calls, {run.max_sessions} per "
        f"worker of {run.workers}): {run.offered} calls offered, {run.accepted} accepted "
        f"(p99 frame lateness {fmt(run.lateness.p99)}, answered {run.answered}/"
        f"{run.utterances}), {run.refused_webhook} refused at the webhook and "
        f"{run.refused_stream} at the stream, refusals {fmt(run.refusal)}: "
        + ("passed." if run.passed else "failed."),
    ]


def _setup(report: BenchReport) -> str:
    m, lat, pol = report.machine, report.latencies, report.policy
    versions = ", ".join(f"{r.framework} {r.version}" for r in report.results.values())
    return (
        f"Run {report.started}, {report.duration_s / 60:.1f} min, on {m.cpu} ({m.cores} cores, "
        f"{m.memory_gb:g} GB), {m.system}, Python {m.python}; {versions}. Fake providers: STT "
        f"final {lat.stt_final_ms} ms after speech end, LLM first token {lat.llm_first_token_ms} "
        f"ms then {lat.llm_token_ms} ms a token, TTS first audio {lat.tts_first_byte_ms} ms then "
        f"{lat.tts_chunk_ms} ms per 100 ms chunk, {lat.tts_word_ms} ms of audio a word. "
        f"Turn-taking (both): Silero VAD threshold {pol['vad_threshold']}, speech start after "
        f"{pol['min_interruption_ms']} ms, end after {pol['min_silence_ms']} ms of silence, then "
        f"{pol['merge_gap_ms']} ms more (parley's merge gap, Pipecat's speech timeout)."
        + _policy_changes(pol)
    )


def _policy_changes(policy: dict[str, Any]) -> str:
    """The turn-taking settings a run changed beyond the four both frameworks share."""
    shared = ("vad_threshold", "min_interruption_ms", "min_silence_ms", "merge_gap_ms")
    extra = {k: v for k, v in policy.items() if k not in shared}
    if not extra:
        return ""
    named = ", ".join(f"`{k} = {v}`" for k, v in extra.items())
    return f" parley only (`--policy`): {named}."


def write(report: BenchReport, out: Path) -> list[Path]:
    """Write results.json and results.md into `out`; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "results.json", out / "results.md"
    json_path.write_text(report.model_dump_json(indent=2) + "\n")
    md_path.write_text(markdown(report))
    return [json_path, md_path]
