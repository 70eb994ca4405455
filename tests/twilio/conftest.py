"""Collects what the Twilio tests measure (real time, fake caller on loopback) and prints it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

_MEASURED: dict[str, str] = {}
Measure = Callable[[str, float, str], None]  # the `measured` fixture


@pytest.fixture
def measured() -> Measure:
    def record(name: str, value: float, unit: str) -> None:
        _MEASURED[name] = f"{value:.1f} {unit}" if unit == "ms" else f"{value:g} {unit}"

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _MEASURED:
        return
    terminalreporter.section("twilio measurements (real time, fake caller over loopback)")
    width = max(len(name) for name in _MEASURED)
    for name, value in _MEASURED.items():
        terminalreporter.write_line(f"{name:<{width}}  {value}")
