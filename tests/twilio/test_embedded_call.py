"""A phone call over Twilio Media Streams with the embedded stack (Silero, Whisper, llama.cpp,
Piper): the fake caller speaks real 8 kHz speech, interrupts once, and measures barge-in and
voice-to-voice as the caller lives them. Slow (real models, real time): about a minute.
"""

from __future__ import annotations

import asyncio
import statistics

import pytest

from parley.events import UserSpeechStarted
from parley.session.config import Providers
from parley.testing.twilio_caller.fake_caller import (
    FakeCaller,
    HangUp,
    Pause,
    Speak,
    answered,
    heard_or_finished,
)
from tests.conftest import Measure

from .harness import parley_server, speech

pytestmark = pytest.mark.slow


async def test_a_phone_call_with_the_embedded_stack(embedded: Providers, measured: Measure) -> None:
    async with parley_server(
        embedded, vad="silero", stt="whisper", llm="llama", tts="piper"
    ) as site:
        caller = site.caller([
            Pause(0.5),
            Speak(speech("question_time"), "question 1"),
            answered(limit=40.0),
            Speak(speech("question_story"), "question 2"),
            # Half a second in: SmolLM2 (temperature 0.6) sometimes tells a one-second story.
            heard_or_finished(0.5, limit=40.0),
            Speak(speech("interrupt_wait"), "barge-in"),
            answered(limit=40.0),
            Speak(speech("thanks_bye"), "goodbye"),
            answered(limit=40.0),
            HangUp(),
        ])  # fmt: skip
        log = await asyncio.wait_for(caller.run(), 240)

    session = site.sessions[0]
    assert log.protocol_errors == [] and log.ended_by == "caller"
    transcripts = [m.content.lower() for m in session.conversation.history if m.role == "user"]
    assert any("tokyo" in t for t in transcripts), transcripts

    answers = [u for u in log.utterances if u.label != "question 2"]
    v2v = [caller.voice_to_voice(u) for u in answers]
    assert all(v is not None and v < 8.0 for v in v2v), v2v
    for utterance, value in zip(answers, v2v, strict=True):
        assert value is not None
        measured(f"embedded: voice-to-voice after {utterance.label}", value * 1000, "ms")
    measured("embedded: voice-to-voice median (caller)",
             statistics.median(v for v in v2v if v is not None) * 1000, "ms")  # fmt: skip
    server_v2v = [t.voice_to_voice for t in session.turns if t.voice_to_voice is not None]
    measured("embedded: voice-to-voice median (server)", statistics.median(server_v2v) * 1000,
             "ms")  # fmt: skip

    barge_in = caller.barge_in_delay(log.utterances[2])
    if barge_in is None or barge_in > 2.0:
        pytest.fail(f"no clear for the barge-in (the answer was {answer_length(caller)})")
    measured("embedded: barge-in, onset in caller audio to clear received", barge_in * 1000, "ms")
    assert barge_in < 1.0
    cleared = next(t for t in log.clears_received if t >= (log.utterances[2].onset or 0))
    decided = max(t for t, _ in site.events_of(UserSpeechStarted) if t <= cleared)
    measured("embedded: barge-in, VAD decision to clear received", (cleared - decided) * 1000,
             "ms")  # fmt: skip
    assert cleared - decided < 0.1


def answer_length(caller: FakeCaller) -> str:
    second = caller.log.utterances[1]
    return f"{caller.playback.heard_seconds(caller.log.utterances[2].started, second.ended):.2f} s"
