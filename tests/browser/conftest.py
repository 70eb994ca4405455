"""Collects what the browser tests measure and prints it after the run. The real models
(loaded once per test run, only when a test asks for them) come from tests/conftest.py."""

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
    terminalreporter.section("browser measurements (real time, loopback)")
    width = max(len(name) for name in _MEASURED)
    for name, value in _MEASURED.items():
        terminalreporter.write_line(f"{name:<{width}}  {value}")
