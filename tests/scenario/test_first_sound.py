"""The first sound of an answer: its first segment is short and goes to TTS early, even when
the LLM is slow to reach punctuation (issue 13, item 3). Virtual clock."""

from __future__ import annotations

import pytest

from parley.events import AgentTranscript
from parley.testing.fakes import FakeLLM, FakeTTS
from parley.testing.memory_transport import HangUp, Say, Silence, Step

from .harness import converse

REPLY = (
    "Well I think the weather tomorrow will be mostly sunny with some clouds in the "
    "afternoon and a light breeze from the west. Take a jacket anyway."
)


def test_a_slow_llm_gets_a_short_first_segment_early() -> None:
    steps: list[Step] = [Silence(0.3), Say("what about tomorrow", 1.0), Silence(12.0), HangUp()]
    llm = FakeLLM([REPLY], first_token_latency=0.2, token_latency=0.15)  # about 7 tokens/s
    tts = FakeTTS(first_byte_latency=0.05)
    call = converse(steps, llm=llm, tts=tts)

    turn = call.session.turns[0]
    assert turn.status == "completed" and turn.llm_first_token is not None
    said = call.events(AgentTranscript)
    first_at, first = said[0]
    # Three whole words, the first one 0.3 s old: spoken before the sentence (21 words,
    # 3 s of tokens) is done. The splitter before this waited for the full stop.
    assert first.text == "Well I think"
    assert first_at - turn.llm_first_token == pytest.approx(0.3)
    assert tts.segments[0] == "Well I think"
    assert turn.tts_first_audio is not None
    assert turn.tts_first_audio - turn.llm_first_token == pytest.approx(0.35)
    # Then whole sentences: the rest of the first one, and the second.
    assert [e.text for _, e in said[1:]] == [
        "the weather tomorrow will be mostly sunny with some clouds in the afternoon and a "
        "light breeze from the west.",
        "Take a jacket anyway.",
    ]


def test_a_fast_llm_gets_a_first_segment_of_six_words_at_most() -> None:
    steps: list[Step] = [Silence(0.3), Say("what about tomorrow", 1.0), Silence(5.0), HangUp()]
    llm = FakeLLM([REPLY], first_token_latency=0.2, token_latency=0.01)
    call = converse(steps, llm=llm)

    said = [e.text for _, e in call.events(AgentTranscript)]
    assert said[0] == "Well I think the weather tomorrow"
    assert " ".join(said) == REPLY
