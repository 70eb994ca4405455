"""Collects the numbers the scenario tests measure and prints them after the run."""

from __future__ import annotations

from collections.abc import Callable

import pytest

_MEASURED: dict[str, str] = {}


@pytest.fixture
def measured() -> Callable[[str, float, str], None]:
    """Record a measured value under a readable name, to be printed in the summary."""

    def record(name: str, value: float, unit: str) -> None:
        _MEASURED[name] = f"{value:.1f} {unit}" if unit == "ms" else f"{value:g} {unit}"

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _MEASURED:
        return
    terminalreporter.section("scenario measurements (virtual clock)")
    width = max(len(name) for name in _MEASURED)
    for name, value in _MEASURED.items():
        terminalreporter.write_line(f"{name:<{width}}  {value}")
