"""The OpenAI-compatible speech adapter against a fake server that streams the audio body."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from parley.providers.base import ProviderError, TTSChunk
from parley.providers.cloud.common import (
    ConnectionLostError,
    CredentialsError,
    StalledError,
    UnreachableError,
)
from parley.providers.cloud.config import OpenAISpeechSettings
from parley.providers.cloud.openai_speech import OpenAISpeechTTS, WavStream
from tests.serving import serving

from .fakes.openai_audio import KEY, FakeSpeechServer, Speech, Status
from .fakes.servers import closed_port


def tts(base_url: str, **changes: Any) -> OpenAISpeechTTS:
    values: dict[str, Any] = {"base_url": base_url, "api_key": KEY, "retry_backoff_s": 0.01}
    return OpenAISpeechTTS(OpenAISpeechSettings.model_validate({**values, **changes}))


@pytest.fixture
async def fake() -> FakeSpeechServer:
    return FakeSpeechServer()


@pytest.fixture
async def url(fake: FakeSpeechServer) -> AsyncIterator[str]:
    async with serving(fake, lifespan="off") as host:
        yield f"http://{host}/v1"


async def collect(chunks: AsyncIterator[TTSChunk]) -> list[tuple[float, TTSChunk]]:
    loop = asyncio.get_running_loop()
    return [(loop.time(), chunk) async for chunk in chunks]


async def test_pcm_is_streamed_as_it_arrives_and_is_the_servers_audio(
    fake: FakeSpeechServer, url: str
) -> None:
    # 10 words: 2 s of audio in 20 pieces, 50 ms apart: about 1 s to send.
    fake.script(Speech(chunk_delay=0.05))
    text = "one two three four five six seven eight nine ten"
    got = await collect(tts(url).synthesize(text))
    assert got[0][0] < fake.finished[0] - 0.5  # the first audio came well before the last
    assert b"".join(c.audio.pcm for _, c in got) == fake.audio_sent[0]
    assert {c.audio.sample_rate for _, c in got} == {24000}
    assert fake.requests == [{"model": "gpt-4o-mini-tts", "voice": "alloy", "input": text,
                              "response_format": "pcm"}]  # fmt: skip


async def test_pieces_that_split_samples_are_joined_whole(fake: FakeSpeechServer, url: str) -> None:
    fake.script(Speech(chunk_bytes=1001))
    got = await collect(tts(url, speed=1.25).synthesize("odd sizes here"))
    assert all(c.audio.pcm and len(c.audio.pcm) % 2 == 0 for _, c in got)
    assert b"".join(c.audio.pcm for _, c in got) == fake.audio_sent[0]
    assert fake.requests[0]["speed"] == 1.25


async def test_a_streamed_wav_gives_its_rate_and_audio() -> None:
    fake = FakeSpeechServer(sample_rate=22050)
    fake.script(Speech(chunk_bytes=30, chunk_delay=0))  # the header spans three pieces
    async with serving(fake, lifespan="off") as host:
        got = await collect(tts(f"http://{host}/v1", response_format="wav").synthesize("a wav"))
    assert {c.audio.sample_rate for _, c in got} == {22050}
    assert b"".join(c.audio.pcm for _, c in got) == fake.audio_sent[0]


def test_wav_stream_refuses_what_it_cannot_play() -> None:
    with pytest.raises(ProviderError, match="not a WAV"):
        WavStream().feed(b"ID3\x04" + b"\x00" * 20)
    stereo = FakeSpeechServer().wav_header().replace(b"\x01\x00\x01\x00", b"\x01\x00\x02\x00")
    with pytest.raises(ProviderError, match="16-bit mono"):
        WavStream().feed(stereo)


async def test_segments_get_estimated_word_timings(fake: FakeSpeechServer, url: str) -> None:
    stream = tts(url).stream(24000)
    stream.push_text("Hello there.")
    stream.push_text("How are you?")
    stream.end_input()
    chunks = [c async for c in stream]
    words = [w for c in chunks for w in c.words]
    assert [w.text for w in words] == ["Hello", "there.", "How", "are", "you?"]
    assert words[2].start == pytest.approx(0.4)  # the second segment starts after 2 words' audio
    assert words[-1].end == pytest.approx(1.0)


async def test_a_500_before_audio_is_retried(fake: FakeSpeechServer, url: str) -> None:
    fake.script(Status(500), Speech())
    got = await collect(tts(url, retries=1).synthesize("retried words"))
    assert b"".join(c.audio.pcm for _, c in got) == fake.audio_sent[0]
    assert len(fake.requests) == 2


async def test_a_stall_before_audio_is_retried_then_fails(fake: FakeSpeechServer, url: str) -> None:
    fake.script(Speech(then="stall"), Speech(then="stall"))
    with pytest.raises(StalledError, match=r"no audio within 0\.2 s"):
        await collect(tts(url, first_audio_timeout_s=0.2, retries=1).synthesize("slow"))
    assert len(fake.requests) == 2


async def test_a_drop_after_audio_is_not_retried(fake: FakeSpeechServer, url: str) -> None:
    fake.script(Speech(then="drop", after=2), Speech())
    got: list[TTSChunk] = []

    async def read() -> None:
        async for chunk in tts(url, retries=3).synthesize("one two three four five"):
            got.append(chunk)

    with pytest.raises(ConnectionLostError, match="connection lost"):
        await read()
    assert b"".join(c.audio.pcm for c in got) == fake.audio_sent[0][: 2 * 4800]
    assert len(fake.requests) == 1  # retrying would repeat the words already spoken


async def test_closing_mid_stream_closes_the_connection(fake: FakeSpeechServer, url: str) -> None:
    fake.script(Speech(chunk_delay=0.05))
    audio = tts(url).synthesize("one two three four five six seven eight nine ten")
    await anext(audio)
    closed_at = asyncio.get_running_loop().time()
    await audio.aclose()
    for _ in range(100):
        if fake.disconnects:
            break
        await asyncio.sleep(0.01)
    assert fake.disconnects and fake.disconnects[0] - closed_at < 0.5
    assert fake.pieces_sent[0] < 20 and not fake.finished  # it stopped synthesizing


async def test_a_bad_key_fails_at_once(fake: FakeSpeechServer, url: str) -> None:
    with pytest.raises(CredentialsError, match="HTTP 401"):
        await collect(tts(url, api_key="sk-not-the-key-000000", retries=2).synthesize("hi"))
    assert fake.requests == []


async def test_a_bad_request_is_the_servers_message(fake: FakeSpeechServer, url: str) -> None:
    with pytest.raises(ProviderError, match="HTTP 400: Invalid value for 'voice'"):
        await collect(tts(url, voice="nobody", retries=2).synthesize("hi"))


async def test_no_route_is_unreachable() -> None:
    with pytest.raises(UnreachableError, match="cannot connect"):
        await collect(tts(f"http://{closed_port()}/v1", retries=0).synthesize("hi"))
