"""The terminal call's picture (rich): state, levels, transcript, latencies, keys."""

from __future__ import annotations

import math

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from parley.desktop.view import CallView

KEYS = "q / Esc / Ctrl-C hang up   m mute   n new call"
_STATE_STYLE = {
    "starting": "yellow",
    "listening": "green",
    "hearing you": "bold green",
    "thinking": "cyan",
    "speaking": "bold magenta",
    "paused": "bold yellow",
    "ended": "red",
}
_METER_WIDTH = 24
_FLOOR_DB = -60.0


def meter(dbfs: float) -> str:
    """A bar for a level in dBFS: empty at -60 dB and below, full at 0."""
    if not math.isfinite(dbfs) or dbfs <= _FLOOR_DB:
        filled = 0
    else:
        filled = round(min(1.0, (dbfs - _FLOOR_DB) / -_FLOOR_DB) * _METER_WIDTH)
    return "#" * filled + "." * (_METER_WIDTH - filled)


def render(view: CallView, mic_db: float, speaker_db: float, height: int = 12) -> RenderableType:
    status = Text()
    status.append(f" {view.state.upper()} ", style=f"reverse {_STATE_STYLE[view.state]}")
    if view.muted:
        status.append("  MIC MUTED", style="bold red")
    if view.note:
        status.append(f"  {view.note}", style="dim")
    levels = Text()
    levels.append(f"mic     [{meter(mic_db)}]", style="red" if view.muted else "green")
    levels.append(f"   speaker [{meter(speaker_db)}]", style="magenta")
    if view.echo:
        levels.append(f"   {view.echo}", style="dim")
    transcript = Table.grid(padding=(0, 1))
    transcript.add_column(width=6)
    transcript.add_column(ratio=1)
    transcript.add_column(justify="right", width=9)
    for line in view.lines[-height:]:
        if line.who == "note":
            transcript.add_row("", Text(line.text, style="dim italic"), "")
            continue
        text = Text(line.text or "...")
        if line.status:
            text.append(f"  [{line.status}]", style="yellow")
        latency = f"{line.latency_ms:.0f} ms" if line.latency_ms is not None else ""
        style = "cyan" if line.who == "you" else "magenta"
        transcript.add_row(Text(line.who, style=style), text, Text(latency, style="dim"))
    if view.partial:
        transcript.add_row(Text("you", style="cyan"), Text(view.partial, style="dim"), "")
    footer = Text(KEYS, style="dim")
    if view.latencies_ms:
        mean = sum(view.latencies_ms) / len(view.latencies_ms)
        footer.append(f"   voice-to-voice mean {mean:.0f} ms over {len(view.latencies_ms)}")
    return Panel(Group(status, levels, Text(), transcript, Text(), footer), title="parley talk")
