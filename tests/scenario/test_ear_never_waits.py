"""Invariant 1: inbound audio reaches STT with no gap, whatever else is happening."""

from __future__ import annotations

import itertools

import pytest

from parley.events import AgentResponseDone
from parley.session import SessionConfig
from parley.testing.fakes import FakeLLM, FakeTTS
from parley.testing.memory_transport import HangUp, Say, Silence, Step, Wait
from tests.conftest import Measure

from .harness import FRAME, agent_started_speaking, converse

LONG_REPLY = " ".join(["word"] * 40) + "."


def test_tts_close_hanging_10s_during_an_interruption_does_not_delay_inbound_audio(
    measured: Measure,
) -> None:
    tts = FakeTTS(close_delay=10.0)
    steps: list[Step] = [
        Silence(0.3),
        Say("tell me a long story", 1.0),
        Wait(agent_started_speaking(1), then=1.0),
        Say("stop right there", 0.8),  # real words: the response is cancelled, TTS closed
        Silence(12.0),  # the close hangs for 10 s of this
        HangUp(),
    ]
    # A generous close deadline, so the 10 s hang really runs while the caller talks.
    call = converse(
        steps,
        llm=FakeLLM([LONG_REPLY, "Okay."]),
        tts=tts,
        config=SessionConfig(close_deadline_s=15.0),
    )

    done = [e for _, e in call.events(AgentResponseDone)]
    assert done[0].status == "interrupted"
    cancelled_close = next(c for c in tts.closes if c[1] - c[0] >= 10.0)
    arrivals = call.stt.arrivals
    during_close = [t for t in arrivals if cancelled_close[0] <= t <= cancelled_close[1]]
    assert len(during_close) >= 10.0 / FRAME  # frames kept flowing for the whole hang

    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert max(gaps) <= FRAME + 0.005, f"longest input gap {max(gaps) * 1000:.1f} ms"
    assert len(arrivals) == call.caller.frames_sent  # no inbound frame lost
    assert call.stt.samples_received == call.caller.frames_sent * 320
    measured("input gap, longest, while a TTS close hangs 10 s", max(gaps) * 1000, "ms")
    measured("input frames lost", call.caller.frames_sent - len(arrivals), "frames")


@pytest.mark.parametrize("caller_rate", [8000, 44100, 48000])
def test_audio_at_another_rate_reaches_stt_frame_by_frame(
    caller_rate: int, measured: Measure
) -> None:
    """A phone sends 8 kHz, a browser 44.1 or 48 kHz; STT listens at 16 kHz. Resampling must
    hand on every frame as it comes: a resampler that gathers input into blocks would hold
    the ear shut for the length of a block."""
    steps: list[Step] = [Silence(0.3), Say("hello", 1.0), Silence(2.0), HangUp()]
    call = converse(steps, caller_rate=caller_rate)
    arrivals = call.stt.arrivals
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert max(gaps) <= FRAME + 0.005, f"longest input gap {max(gaps) * 1000:.1f} ms"
    assert len(arrivals) == call.caller.frames_sent
    expected = call.caller.frames_sent * 320
    assert abs(call.stt.samples_received - expected) <= 0.01 * 16000  # all but the filter delay
    measured(f"input gap, longest, caller at {caller_rate} Hz", max(gaps) * 1000, "ms")
