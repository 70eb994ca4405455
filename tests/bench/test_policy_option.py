"""`parley bench --policy KEY=VALUE`: the servers' turn-taking, validated, named in the report."""

from __future__ import annotations

import pytest

from parley.benchmarks.command import _policy_overrides
from parley.benchmarks.report import _policy_changes
from parley.benchmarks.results import BenchReport
from parley.benchmarks.run import BenchError, BenchOptions, check
from parley.conversation.policy import TurnTakingPolicy


def test_overrides_are_validated_and_named_in_the_report() -> None:
    overrides = _policy_overrides(["turn_detector=smart-turn", "preemptive_response = true"])
    check(BenchOptions(policy=overrides))
    policy = TurnTakingPolicy.model_validate(overrides)
    assert policy.preemptive_response is True
    summary = BenchReport.policy_summary(policy)
    assert summary["turn_detector"] == "smart-turn"
    assert summary["min_silence_ms"] == TurnTakingPolicy().min_silence_ms
    assert "`preemptive_response = True`" in _policy_changes(summary)
    assert _policy_changes(BenchReport.policy_summary(TurnTakingPolicy())) == ""


def test_bad_overrides_are_refused_before_anything_runs() -> None:
    with pytest.raises(BenchError, match="--policy"):
        check(BenchOptions(policy={"no_such_setting": "1"}))
    with pytest.raises(BenchError, match="--policy"):
        check(BenchOptions(policy={"min_silence_ms": "soon"}))
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        _policy_overrides(["turn_detector"])
