"""ElevenLabs multi-context TTS against a fake ElevenLabs server (real sockets, real time)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from parley.providers.base import TTSChunk
from parley.providers.cloud.common import ConnectionLostError, CredentialsError, StalledError
from parley.providers.cloud.config import ElevenLabsSettings
from parley.providers.cloud.elevenlabs import ElevenLabsStream, ElevenLabsTTS
from parley.providers.scope import SessionScope

from .fakes.elevenlabs import KEY, FakeElevenLabs
from .fakes.servers import ws_server


@asynccontextmanager
async def elevenlabs(
    fake: FakeElevenLabs, **changes: object
) -> AsyncIterator[tuple[ElevenLabsTTS, SessionScope]]:
    """A TTS bound to one session's scope (its socket), closed at the end."""
    async with ws_server(fake.handler, fake.process_request) as url:
        settings = ElevenLabsSettings.model_validate(
            {"base_url": url + "/v1", "api_key": KEY, "voice_id": "voice1", **changes}
        )
        scope = SessionScope()
        try:
            yield ElevenLabsTTS(settings).for_session(scope), scope
        finally:
            await asyncio.wait_for(scope.aclose(), 3)


async def speak(stream: ElevenLabsStream, *segments: str) -> list[TTSChunk]:
    """Push the segments and end the input (none: the caller does), then hear it all."""
    for segment in segments:
        stream.push_text(segment)
    if segments:
        stream.end_input()
    chunks = [chunk async for chunk in stream]
    await stream.aclose()
    return chunks


async def test_streams_audio_with_word_timings_and_closes_the_context() -> None:
    fake = FakeElevenLabs()
    async with elevenlabs(fake) as (tts, _):
        stream = tts.stream(16000)
        chunks = await speak(stream, "Hello there.", "How are you?")
    words = [w for c in chunks for w in c.words]
    assert [w.text for w in words] == ["Hello", "there.", "How", "are", "you?"]
    assert [round(w.start, 3) for w in words] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert all(c.audio.sample_rate == 16000 for c in chunks)
    assert sum(c.audio.duration for c in chunks) == pytest.approx(1.25)
    query = {k: v[0] for k, v in fake.queries[0].items()}
    assert query["output_format"] == "pcm_16000" and query["model_id"] == "eleven_flash_v2_5"
    context = stream.context_id
    assert fake.received[0] == {"text": " ", "context_id": context}
    assert {"context_id": context, "flush": True} in fake.received
    assert {"context_id": context, "close_context": True} in fake.received


async def test_phones_get_ulaw_8000_decoded_to_pcm() -> None:
    fake = FakeElevenLabs()
    async with elevenlabs(fake) as (tts, _):
        chunks = await speak(tts.stream(8000), "One two.")
    assert fake.queries[0]["output_format"] == ["ulaw_8000"]
    assert {c.audio.sample_rate for c in chunks} == {8000}
    assert sum(c.audio.samples for c in chunks) == 2 * 2000  # two words of 0.25 s, as PCM16


async def test_cancelling_closes_the_context_and_its_late_audio_is_dropped() -> None:
    # The real server goes on speaking a closed context's flushed text: none of it may play.
    fake = FakeElevenLabs(chunk_s=0.02)
    async with elevenlabs(fake) as (tts, _):
        first = tts.stream(16000)
        first.push_text(" ".join(f"w{i}" for i in range(40)) + ".")
        first.end_input()
        got = [await anext(aiter(first)) for _ in range(2)]
        await first.aclose()  # the session cancels the response
        second = await speak(tts.stream(16000), "Fresh answer.")
        assert tts.socket is not None
        for _ in range(100):  # the fake finishes the closed context's 40 words
            if f"w{39}." in fake.spoken:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)
        late = tts.socket.late_chunks_dropped
        connections = tts.socket.connections
    assert len(got) == 2
    # The server spoke all 40 words after close_context (sent at the first audio, as at
    # the end of every response); what had not reached the stream when it was cancelled
    # was dropped by context id: none of it went to the next response.
    assert fake.late_sent == 40 and late >= 30
    assert [w.text for c in second for w in c.words] == ["Fresh", "answer."]
    assert sum(c.audio.duration for c in second) == pytest.approx(0.5)  # its own audio only
    assert connections == 1 and fake.connections == 1  # the socket outlived the cancellation


@pytest.mark.parametrize("alignment", ["null", "null_lists", "split"])
async def test_speech_ends_on_is_final_whatever_the_alignment(alignment: str) -> None:
    # Real alignment may be null, have null lists, or be cut apart from the audio: the end
    # of speech is ElevenLabs' isFinal (after flush and close_context), never a count.
    fake = FakeElevenLabs(alignment=alignment)  # type: ignore[arg-type]
    async with elevenlabs(fake, first_audio_timeout_s=3.0) as (tts, _):
        loop = asyncio.get_running_loop()
        started = loop.time()
        stream = tts.stream(16000)
        chunks = await speak(stream, "Hello there.", "How are you?")
        took = loop.time() - started
    assert sum(c.audio.duration for c in chunks) == pytest.approx(1.25)  # no audio dropped
    assert took < 1.5  # no stall waiting for characters that never come
    words = [w.text for c in chunks for w in c.words]
    expected = ["Hello", "there.", "How", "are", "you?"]
    assert words == ([] if alignment.startswith("null") else expected)
    context = stream.context_id
    sent = [m for m in fake.received if m.get("context_id") == context]
    assert sent[-2:] == [
        {"context_id": context, "flush": True},
        {"context_id": context, "close_context": True},
    ]


async def test_an_idle_socket_is_kept_alive_past_the_inactivity_timeout() -> None:
    fake = FakeElevenLabs(inactivity_timeout_s=0.5)
    async with elevenlabs(fake, keepalive_s=0.15) as (tts, _):
        await speak(tts.stream(16000), "First.")
        await asyncio.sleep(1.2)  # well past the server's timeout, between two responses
        chunks = await speak(tts.stream(16000), "Second.")
    assert [w.text for c in chunks for w in c.words] == ["Second."]
    assert fake.timeouts == 0 and fake.connections == 1
    assert fake.keepalives >= 3
    assert {"text": ""} in fake.received  # no context open: a context-less keep-alive


async def test_a_pause_in_the_text_longer_than_the_timeout_does_not_end_the_response() -> None:
    fake = FakeElevenLabs(inactivity_timeout_s=0.5)
    async with elevenlabs(fake, keepalive_s=0.15) as (tts, _):
        stream = tts.stream(16000)
        listening = asyncio.create_task(speak(stream))  # the session plays as audio comes
        stream.push_text("Let me think.")
        await asyncio.sleep(1.0)  # the LLM is slow to go on
        stream.push_text("Here it is.")
        stream.end_input()
        chunks = await listening
    assert [w.text for c in chunks for w in c.words] == ["Let", "me", "think.", "Here", "it", "is."]
    assert fake.timeouts == 0
    assert {"text": "", "context_id": stream.context_id} in fake.received


async def test_without_keepalives_the_fake_closes_an_idle_socket() -> None:
    # The fake's inactivity timeout is real: a socket sent nothing is closed (1008).
    fake = FakeElevenLabs(inactivity_timeout_s=0.3)
    async with elevenlabs(fake, keepalive_s=4.0) as (tts, _):
        await speak(tts.stream(16000), "First.")
        await asyncio.sleep(0.6)
        chunks = await speak(tts.stream(16000), "Second.")
    assert [w.text for c in chunks for w in c.words] == ["Second."]
    assert fake.timeouts == 1 and fake.connections == 2


async def test_one_socket_serves_many_responses_past_the_five_context_limit() -> None:
    fake = FakeElevenLabs(word_s=0.05)
    async with elevenlabs(fake) as (tts, _):
        for i in range(8):
            chunks = await speak(tts.stream(16000), f"Answer number {i}.")
            assert [w.text for c in chunks for w in c.words] == ["Answer", "number", f"{i}."]
    assert fake.connections == 1


async def test_a_response_with_no_text_ends_at_once() -> None:
    fake = FakeElevenLabs()
    async with elevenlabs(fake, first_audio_timeout_s=1.0) as (tts, _):
        loop = asyncio.get_running_loop()
        started = loop.time()
        chunks = await speak(tts.stream(16000), "  ")  # the LLM gave nothing to say
        took = loop.time() - started
        chunks += await speak(tts.stream(16000), "Still here.")
    assert took < 0.5  # no wait for audio that will never come, no StalledError
    assert [w.text for c in chunks for w in c.words] == ["Still", "here."]


async def test_a_stalled_server_fails_the_stream_after_the_timeout() -> None:
    fake = FakeElevenLabs(stall_after_chunks=2)
    async with elevenlabs(fake, first_audio_timeout_s=0.3) as (tts, _):
        stream = tts.stream(16000)
        with pytest.raises(StalledError, match="no audio within"):
            await speak(stream, "one two three four five.")
        await stream.aclose()


async def test_a_dropped_socket_fails_the_response_and_the_next_one_reconnects() -> None:
    fake = FakeElevenLabs(drop_after_chunks=2)
    async with elevenlabs(fake) as (tts, _):
        stream = tts.stream(16000)
        with pytest.raises(ConnectionLostError):
            await speak(stream, "one two three four five.")
        await stream.aclose()
        fake.drop_after_chunks = None
        chunks = await speak(tts.stream(16000), "Back again.")
    assert [w.text for c in chunks for w in c.words] == ["Back", "again."]
    assert fake.connections == 2


@pytest.mark.parametrize("refused", ["at the handshake", "after opening"])
async def test_bad_credentials_are_reported_without_the_key(refused: str) -> None:
    fake = FakeElevenLabs(reject_after_open=refused == "after opening")
    wrong = "xi-wrong-secret-key-12345"
    async with elevenlabs(fake, api_key=wrong) as (tts, _):
        stream = tts.stream(16000)
        with pytest.raises(CredentialsError) as failure:
            await speak(stream, "Hello.")
        await stream.aclose()
    assert wrong not in str(failure.value) and wrong[-8:] not in str(failure.value)
