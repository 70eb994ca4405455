"""Settings that contradict each other are refused when they are read, with a clear reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from parley.settings import Settings


def test_a_rest_hangup_longer_than_the_close_deadline_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"rest_timeout_s \(3 s\) must be under"):
        Settings.model_validate({"twilio": {"rest_timeout_s": 3.0}})  # the deadline is 2 s
    fits = {"twilio": {"rest_timeout_s": 3.0}, "session": {"close_deadline_s": 4.0}}
    assert Settings.model_validate(fits).twilio.rest_timeout_s == 3.0
