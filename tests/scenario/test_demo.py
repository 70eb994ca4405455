"""`parley demo` on the virtual clock: its call shows a tool call and ends itself."""

from __future__ import annotations

import io

from rich.console import Console

from parley.demo import run_demo
from parley.session import Session

from .harness import run_virtual


def test_the_demo_calls_a_tool_and_ends_the_call_itself() -> None:
    out = io.StringIO()
    session: Session = run_virtual(lambda: run_demo(console=Console(file=out, width=200)))
    text = out.getvalue()
    assert "tool get_forecast(day='tomorrow') runs" in text
    assert "agent says: One moment." in text  # the tool took 1.5 s, the filler comes at 0.8
    assert "rain is likely tomorrow afternoon" in text
    assert "ms in tools" in text
    assert session.end_reason == "the person said bye"  # end_call, not the caller's hangup
    assert text.index("Goodbye, and stay dry!") < text.index("call ended: the person said bye")
