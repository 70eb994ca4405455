"""Bad input is counted every time and logged on the 1st, 2nd, 4th, 8th... of each kind."""

from __future__ import annotations

import logging

import pytest

from parley.problems import ProblemCounter


def test_each_kind_is_logged_on_powers_of_two(caplog: pytest.LogCaptureFixture) -> None:
    problems = ProblemCounter()
    logger = logging.getLogger("parley.test")
    logged = [n for n in range(1, 21) if problems.note("json", logger, "malformed JSON")]
    assert logged == [1, 2, 4, 8, 16]
    assert problems.note("base64", logger, "bad base64")  # a new kind starts over
    assert problems == {"json": 20, "base64": 1}
    assert [r.getMessage() for r in caplog.records][-2:] == [
        "malformed JSON (16 so far)",
        "bad base64 (1 so far)",
    ]
