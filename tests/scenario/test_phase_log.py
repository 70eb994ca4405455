"""The session logs each change of the conversation's phase: one debug line, in order."""

from __future__ import annotations

import logging
import re

import pytest

from parley.testing.fakes import FakeLLM
from parley.testing.memory_transport import HangUp, Say, Silence, Step, Wait

from .harness import agent_started_speaking, converse


def test_a_backchannel_call_logs_its_phases_in_order(caplog: pytest.LogCaptureFixture) -> None:
    steps: list[Step] = [
        Silence(0.3),
        Say("explain something", 1.0),
        Wait(agent_started_speaking(1), then=1.0),
        Say("uh-huh", 0.4),
        Silence(8.0),
        HangUp(),
    ]
    with caplog.at_level(logging.DEBUG, logger="parley.session"):
        call = converse(steps, llm=FakeLLM(["one two three four five six seven eight."]))

    lines = [r.getMessage() for r in caplog.records if " phase " in r.getMessage()]
    moves = [re.sub(r"^\S+: phase ", "", line) for line in lines]
    assert all(line.startswith(f"{call.session.id}: phase ") for line in lines)
    assert moves == [
        "idle -> listening (SpeechStarted)",
        "listening -> waiting (SpeechEnded)",
        "waiting -> thinking (TimerFired)",
        "thinking -> speaking (PlaybackStarted)",
        "speaking -> paused (SpeechStarted)",
        "paused -> speaking (TranscriptReceived)",
        "speaking -> idle (PlaybackFinished)",
        "idle -> ending (HangupRequested)",
    ]
