"""Invariant 4: the history says what was heard."""

from __future__ import annotations

import pytest

from parley.testing.fakes import FakeLLM, FakeTTS
from parley.testing.memory_transport import HangUp, Say, Silence, Step, Wait
from tests.conftest import Measure

from .harness import agent_started_speaking, converse, response_started

WORDS = [f"w{i}" for i in range(16)]
REPLY = " ".join(WORDS) + "."  # 16 words x 0.25 s: a 4 s response


@pytest.mark.parametrize("word_timings", [True, False], ids=["provider-timings", "estimated"])
def test_interrupted_1_2s_into_a_4s_response_keeps_the_words_played(
    word_timings: bool, measured: Measure
) -> None:
    vad_delay = 0.08  # min_interruption_ms: the VAD decides 80 ms after the onset
    steps: list[Step] = [
        Silence(0.3),
        Say("tell me the words", 1.0),
        Wait(agent_started_speaking(1), then=1.2 - vad_delay),
        Say("stop there", 0.6),
        Silence(3.0),
        HangUp(),
    ]
    tts = FakeTTS(word_timings=word_timings)
    call = converse(steps, llm=FakeLLM([REPLY, "Okay."]), tts=tts)

    history = call.session.conversation.history
    cut = next(m for m in history if m.role == "assistant" and m.interrupted)
    kept = cut.content.split()
    # Words start every 0.25 s: by 1.2 s, w0..w4 have started playing.
    assert abs(len(kept) - 5) <= 1, cut.content
    assert kept == WORDS[: len(kept)]
    assert history[history.index(cut) + 1].content == "stop there"
    kind = "provider" if word_timings else "estimated"
    measured(f"heard text at 1.2 s of 4 s ({kind} timings): words kept", len(kept), "of 16")


def test_interrupted_before_any_audio_the_response_is_gone_and_the_turns_merge() -> None:
    tts = FakeTTS(first_byte_latency=3.0)  # the response stays silent for 3 s
    steps: list[Step] = [
        Silence(0.3),
        Say("book a table", 1.0),
        Wait(response_started(1), then=0.5),
        Say("for two people", 1.0),
        Silence(6.0),
        HangUp(),
    ]
    call = converse(steps, llm=FakeLLM(["Sure.", "A table for two."]), tts=tts)

    assert call.sent_times("resp_1") == []  # none of it was ever heard
    history = call.session.conversation.history
    roles = [m.role for m in history]
    assert roles == ["system", "user", "assistant"]
    assert history[1].content == "book a table for two people"
    assert call.llm.calls[1][-1].content == "book a table for two people"
    assert history[2].content == "A table for two."
