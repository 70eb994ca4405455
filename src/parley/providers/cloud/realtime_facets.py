"""OpenAI Realtime as a speech-to-speech provider: one realtime session replaces the cascade.

It plugs into the session as four facets of one connection, each a provider of the usual
interface, bound per call through the SessionScope (Provider.for_session) to one RealtimeLink
(realtime_link.py), whose methods are the only writers of what they share:
- VAD: the server's VAD decisions (speech_started/stopped, placed on the input's timeline:
  a connection's positions count from its own first sample, so each is moved by the audio
  pushed before that connection began), with the turn-taking policy's threshold, prefix
  padding and silence as its settings. The server's audio_start_ms includes the prefix
  padding and audio_end_ms the silence that ended the speech; parley's VAD events mark the
  onset and the end of voiced audio, so the padding is added back and the silence taken
  off. The server never answers or interrupts by itself (create_response and
  interrupt_response are off): parley's state machine still decides, so pause-then-decide
  holds. With a local VAD instead, the STT facet commits the audio
  itself at each end of speech. An error answering the connection's session.update fails
  the start (the server would otherwise run on its defaults: its own VAD answering by itself).
- STT: its stream *is* the connection (realtime_connection.py). It sends the input audio
  (24 kHz PCM16), yields the person's transcripts (each end of speech is answered by its
  item's transcript, complete), and runs the socket in a worker task it owns. When the socket
  drops, the stream fails and the session opens a new one, which reconnects and re-creates
  the conversation from parley's history as text before the next response. Speech the
  server was hearing when the socket dropped ends there (an END decision, answered with no
  words): the new connection will never end or transcribe it.
- LLM: asks for a response (response.create) after deleting the person's audio items that
  parley left out of its history (backchannels and noise that resumed the agent), and
  yields the response's audio transcript as its text.
- TTS: yields that response's audio (decoded from pcmu for 8 kHz transports) and, per output
  item, word timings spread over its audio. When parley cuts the response short, the session
  calls `interrupted(played)`: the facet sends response.cancel and truncates the item at the
  played position (audio_end_ms), or deletes it when none of it was heard, so the server's
  conversation, like parley's history, holds only what the person heard. Audio of a cut
  response that still arrives is dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import (
    LLM,
    STT,
    TTS,
    VAD,
    ProviderError,
    TTSChunk,
    TTSStream,
    VADEvent,
    VADOutput,
    VADStream,
    close_generator,
)
from parley.providers.cloud.common import StalledError
from parley.providers.cloud.config import OpenAIRealtimeSettings
from parley.providers.cloud.realtime_connection import RealtimeConnection
from parley.providers.cloud.realtime_link import RealtimeLink
from parley.providers.cloud.realtime_responses import PROVIDER, Response, Responses
from parley.providers.cloud.realtime_wire import INPUT_RATE
from parley.providers.scope import SessionScope
from parley.types import ChatMessage

NAME = "openai-realtime"


def _link(scope: SessionScope, settings: OpenAIRealtimeSettings) -> RealtimeLink:
    return scope.get(RealtimeLink, lambda: RealtimeLink(settings))


def _bound(link: RealtimeLink | None) -> RealtimeLink:
    if link is None:
        raise ProviderError(f"{PROVIDER}: its facets work inside a session (for_session)")
    return link


# --- VAD -------------------------------------------------------------------------------------


class RealtimeVAD(VAD):
    name = NAME

    def __init__(self, settings: OpenAIRealtimeSettings, link: RealtimeLink | None = None):
        self.settings = settings
        self.link = link

    def for_session(self, scope: SessionScope) -> RealtimeVAD:
        """Binding this facet is what makes the call's VAD the server's: the connection
        configures it when it opens, so it is set here, before any stream is made."""
        link = _link(scope, self.settings)
        link.use_server_vad()
        return RealtimeVAD(self.settings, link)

    def stream(self, policy: TurnTakingPolicy, sample_rate: int) -> VADStream:
        return _ServerVADStream(_bound(self.link), sample_rate)


class _ServerVADStream(VADStream):
    def __init__(self, link: RealtimeLink, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._link = link
        self._processed = 0  # samples, as pushed to the STT facet (the same frames, first)

    def process(self, frame: AudioFrame) -> VADOutput:
        link = self._link
        self._processed += frame.samples
        start = link.pushed - self._processed  # where this stream began on the link's timeline
        events = tuple(
            VADEvent(kind, max(0, position - start) / self.sample_rate)
            for kind, position in link.take_vad_events()
        )
        return VADOutput(1.0 if link.speaking else 0.0, events)


# --- STT: the connection (realtime_connection.py) ---------------------------------------------


class RealtimeSTT(STT):
    name = NAME
    sample_rate = INPUT_RATE

    def __init__(self, settings: OpenAIRealtimeSettings, link: RealtimeLink | None = None):
        self.settings = settings
        self.link = link

    def for_session(self, scope: SessionScope) -> RealtimeSTT:
        return RealtimeSTT(self.settings, _link(scope, self.settings))

    def stream(self, policy: TurnTakingPolicy) -> RealtimeConnection:
        return RealtimeConnection(_bound(self.link), policy)


# --- LLM and TTS -----------------------------------------------------------------------------


class RealtimeLLM(LLM):
    name = NAME

    def __init__(self, settings: OpenAIRealtimeSettings, link: RealtimeLink | None = None):
        self.settings = settings
        self.link = link

    def for_session(self, scope: SessionScope) -> RealtimeLLM:
        return RealtimeLLM(self.settings, _link(scope, self.settings))

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        link = _bound(self.link)
        return self._text(link, link.responses.new_response(), tuple(messages))

    async def _text(
        self, link: RealtimeLink, response: Response, messages: tuple[ChatMessage, ...]
    ) -> AsyncGenerator[str, None]:
        link.request(response, messages)  # here, so the TTS facet has chosen the format first
        while (delta := await _next(response.text, self.settings.response_timeout_s)) is not None:
            yield delta


class RealtimeTTS(TTS):
    name = NAME
    sample_rate = 24000

    def __init__(self, settings: OpenAIRealtimeSettings, link: RealtimeLink | None = None):
        self.settings = settings
        self.link = link

    def for_session(self, scope: SessionScope) -> RealtimeTTS:
        return RealtimeTTS(self.settings, _link(scope, self.settings))

    def stream(self, output_rate: int | None = None) -> TTSStream:
        link = _bound(self.link)
        response = link.responses.pair_response()
        if response is None:
            raise ProviderError(f"{PROVIDER}: the TTS facet speaks the LLM facet's response")
        choice = self.settings.output_format
        rate = 8000 if choice == "pcmu" or (choice == "auto" and output_rate == 8000) else 24000
        link.responses.set_output_rate(rate)
        return _RealtimeSpeech(link.responses, response, self.settings.response_timeout_s)


class _RealtimeSpeech(TTSStream):
    def __init__(self, responses: Responses, response: Response, timeout: float) -> None:
        self._responses = responses
        self.response = response
        self._timeout = timeout
        self._iterator = self._chunks()

    def push_text(self, text: str) -> None:
        """The server speaks its own words: the text is for transcripts only."""

    def end_input(self) -> None:
        pass

    def __aiter__(self) -> AsyncIterator[TTSChunk]:
        return self._iterator

    async def _chunks(self) -> AsyncGenerator[TTSChunk, None]:
        while (chunk := await _next(self.response.audio, self._timeout)) is not None:
            yield chunk

    def interrupted(self, played: float) -> None:
        self._responses.cut(self.response, played)

    async def aclose(self) -> None:
        if not self.response.done:
            self._responses.cut(self.response, None)
        await close_generator(self._iterator)


async def _next(queue: asyncio.Queue[Any], limit: float) -> Any:
    try:
        async with asyncio.timeout(limit):
            item = await queue.get()
    except TimeoutError:
        raise StalledError(f"{PROVIDER}: the response stalled ({limit:g} s)") from None
    if isinstance(item, ProviderError):
        raise item
    return item
