"""STT over any OpenAI-compatible transcription server (`POST {base}/audio/transcriptions`).

OpenAI, speaches (faster-whisper-server) and vLLM serving Whisper all take the same
multipart request: the utterance as a WAV `file`, `model`, `language`, `response_format`
(json or verbose_json: both carry `text`). With `stream` set, the request asks for
server-sent events, as OpenAI's gpt-4o-transcribe models send them: `transcript.text.delta`
events, then `transcript.text.done` with the whole text, which is the answer. speaches
streams its own way, one `{"text": ...}` event per segment and no done event: the segments
joined are the answer. A server that does not stream (OpenAI's whisper-1 ignores the flag)
answers with JSON, read the same way.

The server transcribes whole utterances, so the streaming interface is `UtteranceSTT`'s:
the local VAD's hints cut the audio, and speculation sends the utterance so far once the
person has been quiet for `speculation_ms`, hiding the server's latency inside the
turn-ending silence. A whole utterance can be sent again without harm, so a 429/5xx, a
stall or a stream cut before `done` is retried (`retries`), each attempt bounded by
`timeout_s`. Each session keeps one HTTP client, so its requests reuse the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import wave
from collections.abc import AsyncIterator
from typing import Any

import httpx
from httpx_sse import EventSource, ServerSentEvent
from pydantic import BaseModel, ConfigDict, ValidationError

from parley.audio.frames import AudioFrame
from parley.providers.base import ProviderError
from parley.providers.cloud.common import ConnectionLostError, StalledError, quoted
from parley.providers.cloud.config import OpenAITranscribeSettings
from parley.providers.cloud.openai_http import (
    RetryableError,
    auth_headers,
    check_status,
    client_or_own,
    new_client,
    session_client,
    transport_error,
    with_retries,
)
from parley.providers.scope import SessionScope
from parley.providers.utterance_stt import UtteranceSTT

PROVIDER = "openai-compatible STT"
DRAIN_S = 0.5  # longest wait for a streamed reply's end after its done event


class _Transcription(BaseModel):
    """A JSON reply (json and verbose_json both carry the whole text)."""

    model_config = ConfigDict(extra="ignore")
    text: str


class _StreamEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str = ""
    delta: str = ""
    text: str | None = None
    error: dict[str, Any] | None = None


def wav_file(audio: AudioFrame) -> bytes:
    """`audio` as a PCM16 mono WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(audio.sample_rate)
        wav.writeframes(audio.pcm)
    return buffer.getvalue()


class OpenAITranscribeSTT(UtteranceSTT):
    name = "openai-transcribe"
    sample_rate = 16000

    def __init__(
        self, settings: OpenAITranscribeSettings, client: httpx.AsyncClient | None = None
    ) -> None:
        self.settings = settings
        ms = settings.speculation_ms
        self.speculation_delay = None if ms is None else ms / 1000
        self._client = client  # a session's client (see for_session); None: one per request

    def for_session(self, scope: SessionScope) -> OpenAITranscribeSTT:
        return OpenAITranscribeSTT(self.settings, session_client(scope, self, self.new_client))

    def new_client(self) -> httpx.AsyncClient:
        return new_client(self.settings.base_url, self.settings.connect_timeout_s)

    @property
    def url(self) -> str:
        return self.settings.base_url.rstrip("/") + "/audio/transcriptions"

    def form(self) -> dict[str, str]:
        s = self.settings
        fields = {"model": s.model, "response_format": s.response_format}
        if s.language:
            fields["language"] = s.language
        if s.stream:
            fields["stream"] = "true"
        return fields

    async def transcribe(self, audio: AudioFrame) -> str:
        if audio.sample_rate != self.sample_rate:
            raise ValueError(f"{PROVIDER} takes {self.sample_rate} Hz audio")
        s = self.settings
        headers = auth_headers(s.api_key, s.base_url, PROVIDER, "PARLEY_OPENAI_TRANSCRIBE__API_KEY")
        files = {"file": ("speech.wav", wav_file(audio), "audio/wav")}
        async with client_or_own(self._client, self.new_client) as client:

            async def attempt() -> str:
                try:
                    async with asyncio.timeout(s.timeout_s):
                        request = client.stream(
                            "POST", self.url, data=self.form(), files=files, headers=headers
                        )
                        async with request as reply:
                            await check_status(reply, PROVIDER, s.api_key)
                            return await self._text(reply)
                except TimeoutError:
                    stalled = StalledError(f"{PROVIDER}: no transcript within {s.timeout_s:g} s")
                    raise RetryableError(stalled) from None
                except httpx.TransportError as exc:
                    raise transport_error(exc, PROVIDER, s.connect_timeout_s) from None

            return await with_retries(attempt, retries=s.retries, first_backoff=s.retry_backoff_s)

    async def _text(self, reply: httpx.Response) -> str:
        if reply.headers.get("content-type", "").startswith("text/event-stream"):
            return await self._streamed_text(reply)
        await reply.aread()
        try:
            return _Transcription.model_validate_json(reply.content).text
        except ValidationError:
            raise ProviderError(f"{PROVIDER}: the reply has no transcript") from None

    async def _streamed_text(self, reply: httpx.Response) -> str:
        """The text of `transcript.text.done` (the deltas joined, if it has none); or, from
        a server that streams segments (speaches: one `{"text": ...}` per segment, no done
        event), the segments joined when the stream ends."""
        deltas: list[str] = []
        segments: list[str] = []
        events = EventSource(reply).aiter_sse()
        async for sse in events:
            if sse.data.strip() == "[DONE]":
                break
            try:
                event = _StreamEvent.model_validate_json(sse.data)
            except ValidationError:
                raise ProviderError(f"{PROVIDER}: malformed stream event") from None
            if event.error is not None or sse.event == "error":
                message = (event.error or {}).get("message", "") or sse.data
                raise ProviderError(f"{PROVIDER}: error in stream: {self._quote(message)}")
            if event.type == "transcript.text.delta":
                deltas.append(event.delta)
            elif event.type == "transcript.text.done":
                await _finish(events)
                return event.text if event.text is not None else "".join(deltas)
            elif not event.type and event.text is not None:
                segments.append(event.text.strip())
        if deltas:  # OpenAI's stream always ends in done: this one was cut short
            lost = ConnectionLostError(f"{PROVIDER}: the stream ended before transcript.text.done")
            raise RetryableError(lost)
        return " ".join(t for t in segments if t)

    def _quote(self, message: Any) -> str:
        text = message if isinstance(message, str) else json.dumps(message)
        return quoted(text, self.settings.api_key)


async def _finish(events: AsyncIterator[ServerSentEvent]) -> None:
    """Read what follows the done event (its end, or `[DONE]`), briefly: a response read to
    its end leaves the connection open for the next utterance; one left unread closes it."""
    with contextlib.suppress(TimeoutError, httpx.TransportError):
        async with asyncio.timeout(DRAIN_S):
            async for _ in events:
                pass
