"""Collects what the Realtime endpoint tests measure (real time, official client on loopback)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

_MEASURED: dict[str, str] = {}
Measure = Callable[[str, float, str], None]  # the `measured` fixture


@pytest.fixture
def measured() -> Measure:
    def record(name: str, value: float, unit: str) -> None:
        _MEASURED[name] = f"{value:.0f} {unit}" if unit == "ms" else f"{value:g} {unit}"

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _MEASURED:
        return
    terminalreporter.section("realtime endpoint measurements (official client over loopback)")
    width = max(len(name) for name in _MEASURED)
    for name, value in _MEASURED.items():
        terminalreporter.write_line(f"{name:<{width}}  {value}")
