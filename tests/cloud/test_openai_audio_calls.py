"""Whole calls through a real Session with speech on shared servers: the OpenAI-compatible
transcription and speech adapters against their fake servers, and the scripted LLM."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest

from parley.events import AgentResponseDone, AgentSpeaking, ErrorEvent, UserTranscript
from parley.providers.cloud.config import OpenAISpeechSettings, OpenAITranscribeSettings
from parley.providers.cloud.openai_speech import OpenAISpeechTTS
from parley.providers.cloud.openai_transcribe import OpenAITranscribeSTT
from parley.session import Providers
from parley.testing.fakes import EnergyVAD, FakeLLM
from parley.testing.memory_transport import HangUp, Say, Silence, Step, Wait
from tests.serving import serving

from .calls import CloudCall, Fakes, converse
from .fakes import openai_audio
from .fakes.openai_audio import FakeSpeechServer, FakeTranscriptionServer, Speech, Status

RATE = 24000  # the speech server's pcm
REPLY = "one two three four five six seven eight nine ten eleven twelve."


@asynccontextmanager
async def speech_servers(
    stt: FakeTranscriptionServer, tts: FakeSpeechServer
) -> AsyncIterator[dict[str, str]]:
    async with AsyncExitStack() as stack:
        hosts = [await stack.enter_async_context(serving(f, lifespan="off")) for f in (stt, tts)]
        yield {"stt": f"http://{hosts[0]}/v1", "tts": f"http://{hosts[1]}/v1"}


def providers(urls: dict[str, str], replies: Sequence[str], **stt_changes: Any) -> Providers:
    stt = OpenAITranscribeSTT(
        OpenAITranscribeSettings.model_validate(
            {
                "base_url": urls["stt"],
                "api_key": openai_audio.KEY,
                "speculation_ms": None,
                "retries": 0,
                **stt_changes,
            }
        )
    )
    tts = OpenAISpeechTTS(
        OpenAISpeechSettings.model_validate(
            {"base_url": urls["tts"], "api_key": openai_audio.KEY, "retries": 0}
        )
    )
    llm = FakeLLM(list(replies), first_token_latency=0.05, token_latency=0.01)
    return Providers(EnergyVAD(), stt, llm, tts)


async def call(
    steps: list[Step],
    replies: Sequence[str],
    stt: FakeTranscriptionServer,
    tts: FakeSpeechServer,
    **stt_changes: Any,
) -> CloudCall:
    async with speech_servers(stt, tts) as urls:
        return await converse(
            providers(urls, replies, **stt_changes), Fakes(), steps, output_rate=RATE
        )


def speaking(count: int) -> Any:
    return lambda t: len(t.events_of(AgentSpeaking)) >= count


@pytest.mark.parametrize("stream", [False, True])
async def test_a_whole_call_hears_and_answers_through_the_speech_servers(stream: bool) -> None:
    stt, tts = FakeTranscriptionServer(), FakeSpeechServer()
    stt.script("what time is it", "thank you")
    steps: list[Step] = [
        Silence(0.3),
        Say("what time is it", 1.0),
        Wait(speaking(1), then=2.5),
        Say("thank you", 0.8),
        Wait(speaking(2), then=1.5),
        HangUp(),
    ]
    done = await call(steps, ["It is noon.", "You are welcome."], stt, tts, stream=stream)

    assert done.errors() == []
    finals = [e.text for _, e in done.events(UserTranscript) if e.final]
    assert finals == ["what time is it", "thank you"]
    statuses = {e.response_id: e.status for _, e in done.events(AgentResponseDone)}
    assert statuses == {"resp_1": "completed", "resp_2": "completed"}
    assert [r["input"] for r in tts.requests] == ["It is noon.", "You are welcome."]
    # Each utterance went once, as a 16 kHz WAV about as long as what was said.
    assert [r.sample_rate for r in stt.received] == [16000, 16000]
    assert 0.9 < stt.received[0].seconds < 1.8
    heard = done.transport.listener.heard_samples("resp_1")
    assert len(heard) == len(tts.audio_sent[0]) // 2  # all of the clip was played


async def test_a_barge_in_closes_the_speech_request_in_flight() -> None:
    stt, tts = FakeTranscriptionServer(), FakeSpeechServer()
    stt.script("tell me a story", "no wait stop")
    # The answer's first segment is its first 6 words (session/splitter.py): 1.2 s of audio in
    # 12 pieces sent 0.3 s apart, so it is still coming when the barge-in's transcript (the end
    # of "no wait stop", 1.5 s or so after its start) cancels the response.
    tts.script(Speech(chunk_delay=0.3), Speech())
    steps: list[Step] = [
        Silence(0.3),
        Say("tell me a story", 1.0),
        Wait(speaking(1), then=0.6),
        Say("no wait stop", 0.8),
        Silence(2.5),
        HangUp(),
    ]
    done = await call(steps, [REPLY, "Sure."], stt, tts)

    statuses = {e.response_id: e.status for _, e in done.events(AgentResponseDone)}
    assert statuses == {"resp_1": "interrupted", "resp_2": "completed"}, done.errors()
    assert tts.disconnects  # the server saw the client go
    assert [r["input"] for r in tts.requests] == ["one two three four five six", "Sure."]
    assert tts.pieces_sent[0] < 12 and len(tts.finished) == 1  # only the second clip finished


async def test_failures_are_error_events_and_the_call_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    stt, tts = FakeTranscriptionServer(), FakeSpeechServer()
    # The first utterance's transcription fails; the second's reply cannot be spoken; the
    # third goes through.
    stt.script(Status(500, "Whisper crashed."), "second try", "third try")
    tts.script(Status(503, "Kokoro is overloaded."), Speech())
    steps: list[Step] = [
        Silence(0.3),
        Say("lost words", 0.8),
        Silence(2.0),
        Say("second try", 0.8),
        Silence(2.5),
        Say("third try", 0.8),
        Wait(speaking(1), then=1.5),
        HangUp(),
    ]
    done = await call(steps, ["First answer.", "Second answer."], stt, tts)

    codes = [(e.code, e.message) for _, e in done.events(ErrorEvent)]
    assert [c for c, _ in codes] == ["stt_failed", "tts_failed"], codes
    assert "HTTP 500: Whisper crashed." in codes[0][1]
    assert "HTTP 503: Kokoro is overloaded." in codes[1][1]
    finals = [e.text for _, e in done.events(UserTranscript) if e.final]
    assert finals == ["second try", "third try"]
    statuses = [e.status for _, e in done.events(AgentResponseDone)]
    assert statuses[-1] == "completed"
    assert len(done.transport.listener.heard_samples("resp_2")) > 0
    assert openai_audio.KEY not in caplog.text and openai_audio.KEY[-8:] not in caplog.text
