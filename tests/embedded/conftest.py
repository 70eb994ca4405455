"""The embedded-model fixtures live in tests/conftest.py, shared with the transport tests;
here, the caller steps the embedded tests share."""

from __future__ import annotations

from parley.events import AgentResponseDone
from parley.testing.memory_transport import Wait
from tests.conftest import Speak

__all__ = ["Speak", "answered"]


def answered(count: int, limit: float = 30.0) -> Wait:
    """Caller step: wait until the agent has finished `count` answers, then 0.3 s more."""
    return Wait(lambda t: len(t.events_of(AgentResponseDone)) >= count, then=0.3, limit=limit)
