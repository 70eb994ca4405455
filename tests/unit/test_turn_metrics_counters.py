"""The turn detector's verdicts and preemptive answers reach /metrics; its names, the CLI."""

from __future__ import annotations

import pytest

from parley.cli import main
from parley.events import TurnMetrics
from parley.server.metrics import ServerMetrics
from parley.timing import TurnTimings


def test_verdicts_and_preemptive_outcomes_are_counted() -> None:
    metrics = ServerMetrics()
    used = TurnTimings("resp_2", turn_verdict="complete", preemptive=True, preemptive_dropped=1)
    metrics.observe(TurnMetrics(used))
    metrics.observe(TurnMetrics(TurnTimings("resp_3", turn_verdict="asked")))
    metrics.observe(TurnMetrics(TurnTimings("resp_4")))  # no detector, no preemption
    text = metrics.render().decode()
    assert 'parley_turn_detector_verdicts_total{verdict="complete"} 1.0' in text
    assert 'parley_turn_detector_verdicts_total{verdict="asked"} 1.0' in text
    assert 'parley_preemptive_responses_total{outcome="used"} 1.0' in text
    assert 'parley_preemptive_responses_total{outcome="dropped"} 1.0' in text


def test_parley_providers_lists_the_turn_detectors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["providers"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if " turn " in line)
    assert "smart-turn" in row and "fake" in row
