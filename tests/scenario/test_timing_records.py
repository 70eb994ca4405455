"""Per-turn timing records: structured data, in order, and one log line per turn."""

from __future__ import annotations

import logging

import pytest

from parley.events import TurnMetrics
from parley.testing.fakes import FakeLLM, FakeSTT, FakeTTS
from parley.testing.memory_transport import HangUp, Say, Silence, Step, stt_script
from parley.timing import STAGES

from .harness import FRAME, converse


def test_each_turn_records_every_stage_in_order(caplog: pytest.LogCaptureFixture) -> None:
    steps: list[Step] = [
        Silence(0.3), Say("first", 1.0), Silence(3.0), Say("second", 1.0), Silence(3.0), HangUp()
    ]  # fmt: skip
    stt = FakeSTT(stt_script(steps), final_latency=0.15)
    llm = FakeLLM(["One. Two.", "Three."], first_token_latency=0.2)
    tts = FakeTTS(first_byte_latency=0.05)
    with caplog.at_level(logging.INFO, logger="parley.turns"):
        call = converse(steps, stt=stt, llm=llm, tts=tts)

    turns = call.session.turns
    assert [t.status for t in turns] == ["completed", "completed"]
    first = turns[0]
    times = [getattr(first, s) for s in STAGES if getattr(first, s) is not None]
    assert times == sorted(times)
    assert first.speech_started == pytest.approx(0.3)
    assert first.speech_ended == pytest.approx(1.3)
    assert first.endpoint_decided == pytest.approx(1.8, abs=FRAME)  # + min silence 500 ms
    assert first.stt_final == pytest.approx(1.95, abs=FRAME)  # + STT final latency 150 ms
    assert first.committed == pytest.approx(2.0, abs=FRAME)  # merge gap ends 200 ms after
    assert first.llm_first_token == pytest.approx(2.2, abs=FRAME)  # + LLM latency 200 ms
    assert first.first_audio_out is not None and first.voice_to_voice is not None
    # End of speech + 500 silence + 200 merge gap + 200 LLM + 50 TTS: nothing else adds up.
    assert first.voice_to_voice == pytest.approx(0.95, abs=1e-6)
    assert first.user_text == "first"
    lines = [r.getMessage() for r in caplog.records if r.name == "parley.turns"]
    assert len(lines) == 2 and "turn resp_1 completed v2v=" in lines[0]
    published = [e.timings for _, e in call.events(TurnMetrics)]
    assert published == turns
