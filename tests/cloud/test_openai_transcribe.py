"""The OpenAI-compatible transcription adapter against a fake server speaking the API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import ProviderError
from parley.providers.cloud.common import (
    ConnectionLostError,
    CredentialsError,
    StalledError,
    UnreachableError,
)
from parley.providers.cloud.config import OpenAITranscribeSettings
from parley.providers.cloud.openai_transcribe import OpenAITranscribeSTT
from parley.providers.scope import SessionScope
from tests.serving import serving

from .fakes.openai_audio import KEY, FakeTranscriptionServer, Status, Transcript
from .fakes.servers import closed_port

SPEECH = AudioFrame.silence(0.8, 16000)


def stt(base_url: str, **changes: Any) -> OpenAITranscribeSTT:
    values: dict[str, Any] = {"base_url": base_url, "api_key": KEY, "retry_backoff_s": 0.01}
    return OpenAITranscribeSTT(OpenAITranscribeSettings.model_validate({**values, **changes}))


async def running(fake: FakeTranscriptionServer) -> AsyncIterator[str]:
    async with serving(fake, lifespan="off") as host:
        yield f"http://{host}/v1"


@pytest.fixture
async def fake() -> FakeTranscriptionServer:
    return FakeTranscriptionServer()


@pytest.fixture
async def url(fake: FakeTranscriptionServer) -> AsyncIterator[str]:
    async for base in running(fake):
        yield base


async def test_a_json_reply_is_the_transcript_and_the_request_is_the_documented_form(
    fake: FakeTranscriptionServer, url: str
) -> None:
    fake.script("Hello there.")
    assert await stt(url).transcribe(SPEECH) == "Hello there."
    [received] = fake.received
    assert received.fields == {"model": "gpt-4o-mini-transcribe", "response_format": "json",
                               "language": "en"}  # fmt: skip
    assert (received.filename, received.content_type) == ("speech.wav", "audio/wav")
    assert (received.sample_rate, received.seconds) == (16000, 0.8)


async def test_verbose_json_and_no_language(fake: FakeTranscriptionServer, url: str) -> None:
    fake.script("Verbose words.")
    text = await stt(url, response_format="verbose_json", language=None).transcribe(SPEECH)
    assert text == "Verbose words."
    assert "language" not in fake.received[0].fields


async def test_a_streamed_transcript_is_the_done_events_text(
    fake: FakeTranscriptionServer, url: str
) -> None:
    fake.script(Transcript("one two three four", delta_delay=0.01))
    assert await stt(url, stream=True).transcribe(SPEECH) == "one two three four"
    assert fake.received[0].fields["stream"] == "true"


async def test_a_stream_of_segments_without_done_is_joined() -> None:
    fake = FakeTranscriptionServer(style="segments")  # as speaches streams
    fake.script(Transcript("First sentence. Second one? Third."), Transcript(""))
    async for url in running(fake):
        adapter = stt(url, stream=True)
        assert await adapter.transcribe(SPEECH) == "First sentence. Second one? Third."
        assert await adapter.transcribe(SPEECH) == ""  # no speech: no segment at all
    assert len(fake.received) == 2  # neither was taken for a cut stream and retried


async def test_a_server_that_ignores_stream_answers_json_which_is_read() -> None:
    fake = FakeTranscriptionServer(streams=False)  # as OpenAI's whisper-1 does
    fake.script("Plain JSON.")
    async for url in running(fake):
        assert await stt(url, stream=True).transcribe(SPEECH) == "Plain JSON."


async def test_a_self_hosted_server_needs_no_key() -> None:
    fake = FakeTranscriptionServer(key=None)
    fake.script("No key.")
    async for url in running(fake):
        assert await stt(url, api_key=None).transcribe(SPEECH) == "No key."


def test_openai_itself_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    adapter = stt("https://api.openai.com/v1", api_key=None)
    with pytest.raises(CredentialsError, match="no API key"):
        asyncio.run(adapter.transcribe(SPEECH))


async def test_a_bad_key_fails_at_once_without_retries(
    fake: FakeTranscriptionServer, url: str
) -> None:
    with pytest.raises(CredentialsError, match="HTTP 401"):
        await stt(url, api_key="sk-wrong-key-000000000000", retries=3).transcribe(SPEECH)
    assert fake.received == []  # refused before the form was read, and not tried again


async def test_a_500_is_retried_then_the_transcript_comes(
    fake: FakeTranscriptionServer, url: str
) -> None:
    fake.script(Status(500), Status(503), "After two failures.")
    assert await stt(url, retries=2).transcribe(SPEECH) == "After two failures."
    assert len(fake.received) == 3


async def test_a_500_past_the_retries_is_the_servers_error(
    fake: FakeTranscriptionServer, url: str
) -> None:
    fake.script(Status(500, "The engine overheated."), Status(500, "The engine overheated."))
    with pytest.raises(ProviderError, match=r"HTTP 500: The engine overheated\."):
        await stt(url, retries=1).transcribe(SPEECH)
    assert len(fake.received) == 2


async def test_a_bad_request_is_not_retried(fake: FakeTranscriptionServer, url: str) -> None:
    fake.script(Status(400, "Audio file is too short."))
    with pytest.raises(ProviderError, match=r"HTTP 400: Audio file is too short\."):
        await stt(url, retries=3).transcribe(SPEECH)
    assert len(fake.received) == 1


async def test_a_slow_server_stalls_within_the_timeout(
    fake: FakeTranscriptionServer, url: str
) -> None:
    fake.script(Transcript("too late", delay=5.0))
    started = asyncio.get_running_loop().time()
    with pytest.raises(StalledError, match=r"no transcript within 0\.3 s"):
        await stt(url, timeout_s=0.3, retries=0).transcribe(SPEECH)
    assert asyncio.get_running_loop().time() - started < 2.0
    await asyncio.sleep(0.1)
    assert len(fake.disconnects) == 1  # the request was abandoned, not left open


async def test_a_stream_cut_before_done_is_retried(fake: FakeTranscriptionServer, url: str) -> None:
    fake.script(Transcript("one two three", then="drop", after=1), Transcript("one two three"))
    assert await stt(url, stream=True, retries=1).transcribe(SPEECH) == "one two three"
    assert len(fake.received) == 2


async def test_a_stream_cut_every_time_fails_as_lost(
    fake: FakeTranscriptionServer, url: str
) -> None:
    fake.script(*[Transcript("one two three", then="drop", after=2)] * 2)
    with pytest.raises((ConnectionLostError, UnreachableError), match="openai-compatible STT"):
        await stt(url, stream=True, retries=1).transcribe(SPEECH)


async def test_no_route_is_unreachable() -> None:
    with pytest.raises(UnreachableError, match="cannot connect"):
        await stt(f"http://{closed_port()}/v1", retries=0).transcribe(SPEECH)


async def test_streaming_stt_answers_each_utterance_complete(
    fake: FakeTranscriptionServer, url: str
) -> None:
    """Through UtteranceSTT, with one HTTP client per session reused across utterances."""
    fake.script("first words", "second words")
    scope = SessionScope()
    stream = stt(url, speculation_ms=None).for_session(scope).stream(TurnTakingPolicy())
    texts = []
    for _ in range(2):
        stream.push_audio(AudioFrame.silence(0.1, 16000))
        stream.speech_started()
        stream.push_audio(SPEECH)
        stream.speech_ended()
        transcript = await anext(aiter(stream))
        assert transcript.final and transcript.complete
        texts.append(transcript.text)
    await stream.aclose()
    await scope.aclose()
    assert texts == ["first words", "second words"]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_sessions_requests_reuse_one_connection(
    fake: FakeTranscriptionServer, url: str, stream: bool
) -> None:
    """A streamed reply is read to its end after `done`, so its connection stays open."""
    fake.script(Transcript("first words"), Transcript("second words"))
    scope = SessionScope()
    adapter = stt(url, stream=stream).for_session(scope)
    assert await adapter.transcribe(SPEECH) == "first words"
    assert await adapter.transcribe(SPEECH) == "second words"
    await scope.aclose()
    assert len(fake.clients) == 2 and fake.clients[0] == fake.clients[1]
