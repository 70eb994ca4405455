"""TTS over any OpenAI-compatible speech server (`POST {base}/audio/speech`), streamed.

OpenAI, Kokoro-FastAPI and speaches take `{model, voice, input, response_format, speed}` and
send the audio as the response body, which they write as they synthesize. The body is read
as it arrives, so a segment's first audio goes out before the server has made all of it.
`pcm` is raw 16-bit little-endian mono (24 kHz at OpenAI and Kokoro: `sample_rate`); `wav`
is the same behind a header, whose sizes a streaming server leaves unknown, so the rate is
taken from the header and everything after the `data` chunk's header is audio.

Segments come from `SegmentTTS`: one request per clause or sentence the responder pushes,
spoken in order, with word timings estimated over each segment's audio (the API gives none).
A failure before a segment's first audio is retried (`retries`); after it, retrying would
repeat words, so the response fails with what was spoken. Closing the stream (a barge-in)
leaves the response's `async with` at once, which closes the connection: the server sees the
client go and can stop synthesizing.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx

from parley.audio.frames import AudioFrame
from parley.providers.base import ProviderError, TTSChunk
from parley.providers.cloud.common import ConnectionLostError, StalledError
from parley.providers.cloud.config import OpenAISpeechSettings
from parley.providers.cloud.openai_http import (
    RetryableError,
    auth_headers,
    check_status,
    client_or_own,
    new_client,
    session_client,
    stream_with_retries,
    transport_error,
)
from parley.providers.scope import SessionScope
from parley.providers.segment_tts import SegmentTTS

PROVIDER = "openai-compatible TTS"


class WavStream:
    """Audio of a WAV file fed in pieces: the header is parsed once whole, then every byte
    after the `data` chunk header is PCM (a streamed WAV's sizes are placeholders)."""

    def __init__(self) -> None:
        self._head = b""
        self.sample_rate: int | None = None
        self.in_data = False

    def feed(self, data: bytes) -> bytes:
        if self.in_data:
            return data
        self._head += data
        head = self._head
        if len(head) < 12:
            return b""
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ProviderError(f"{PROVIDER}: the reply is not a WAV file")
        position = 12
        while len(head) >= position + 8:
            chunk = head[position : position + 4]
            (size,) = struct.unpack_from("<I", head, position + 4)
            body = position + 8
            if chunk == b"data":
                if self.sample_rate is None:
                    raise ProviderError(f"{PROVIDER}: WAV data before its format")
                self.in_data = True
                self._head = b""
                return head[body:]
            if len(head) < body + size:
                return b""  # this chunk is not all here yet
            if chunk == b"fmt ":
                encoding, channels, rate = struct.unpack_from("<HHI", head, body)
                bits = struct.unpack_from("<H", head, body + 14)[0]
                if encoding not in (1, 0xFFFE) or channels != 1 or bits != 16:
                    raise ProviderError(
                        f"{PROVIDER}: WAV must be 16-bit mono PCM "
                        f"(got format {encoding}, {channels} channels, {bits} bits)"
                    )
                self.sample_rate = rate
            position = body + size + (size & 1)
        return b""


class OpenAISpeechTTS(SegmentTTS):
    name = "openai-speech"

    def __init__(
        self, settings: OpenAISpeechSettings, client: httpx.AsyncClient | None = None
    ) -> None:
        self.settings = settings
        self.sample_rate = settings.sample_rate
        self._client = client  # a session's client (see for_session); None: one per segment

    def for_session(self, scope: SessionScope) -> OpenAISpeechTTS:
        return OpenAISpeechTTS(self.settings, session_client(scope, self, self.new_client))

    def new_client(self) -> httpx.AsyncClient:
        return new_client(self.settings.base_url, self.settings.connect_timeout_s)

    @property
    def url(self) -> str:
        return self.settings.base_url.rstrip("/") + "/audio/speech"

    def request_body(self, text: str) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {
            "model": s.model,
            "voice": s.voice,
            "input": text,
            "response_format": s.response_format,
        }
        if s.speed is not None:
            body["speed"] = s.speed
        if s.instructions:
            body["instructions"] = s.instructions
        return body

    async def synthesize(self, text: str) -> AsyncGenerator[TTSChunk, None]:
        s = self.settings
        headers = auth_headers(s.api_key, s.base_url, PROVIDER, "PARLEY_OPENAI_SPEECH__API_KEY")
        headers["Accept"] = "application/octet-stream"
        async with client_or_own(self._client, self.new_client) as client:

            async def attempt() -> AsyncGenerator[TTSChunk, None]:
                try:
                    request = client.stream(
                        "POST", self.url, json=self.request_body(text), headers=headers
                    )
                    async with request as reply:
                        await check_status(reply, PROVIDER, s.api_key)
                        async for audio in self._audio(reply):
                            yield TTSChunk(audio)
                except httpx.TransportError as exc:  # connecting failed, or a late drop
                    raise transport_error(exc, PROVIDER, s.connect_timeout_s) from None

            retried = stream_with_retries(
                attempt, retries=s.retries, first_backoff=s.retry_backoff_s
            )
            async with contextlib.aclosing(retried) as chunks:
                async for chunk in chunks:
                    yield chunk

    async def _audio(self, reply: httpx.Response) -> AsyncIterator[AudioFrame]:
        """The body's audio as it arrives, in whole samples, with the stall deadlines."""
        s = self.settings
        pieces = reply.aiter_bytes()
        wav = WavStream() if s.response_format == "wav" else None
        carry = b""  # an odd byte waiting for its sample's other half
        produced = False
        while True:
            deadline = s.read_timeout_s if produced else s.first_audio_timeout_s
            try:
                async with asyncio.timeout(deadline):
                    piece = await anext(pieces)
            except StopAsyncIteration:
                break
            except TimeoutError:
                what = "no further audio" if produced else "no audio"
                stalled = StalledError(f"{PROVIDER}: {what} within {deadline:g} s")
                raise RetryableError(stalled) from None
            except httpx.TransportError as exc:  # the server dropped the connection mid-body
                lost = ConnectionLostError(f"{PROVIDER}: connection lost ({type(exc).__name__})")
                raise RetryableError(lost) from None
            pcm = carry + (wav.feed(piece) if wav else piece)
            whole = len(pcm) - len(pcm) % 2
            carry = pcm[whole:]
            if whole:
                produced = True
                rate = wav.sample_rate if wav and wav.sample_rate else self.sample_rate
                yield AudioFrame(pcm[:whole], rate)
        if wav is not None and not wav.in_data:
            raise ProviderError(f"{PROVIDER}: the WAV reply ended before its audio")
