"""OpenAI Realtime as a speech-to-speech provider: one realtime session replaces the cascade.

It plugs into the session as four facets of one connection, each a provider of the usual
interface, bound per call through the SessionScope (Provider.for_session):
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
- STT: its stream *is* the connection. It sends the input audio (24 kHz PCM16), yields the
  person's transcripts (each end of speech is answered by its item's transcript, complete),
  and runs the socket in a worker task it owns. When the socket drops, the stream fails and
  the session opens a new one, which reconnects and re-creates the conversation from parley's
  history as text before the next response. Speech the server was hearing when the socket
  dropped ends there (an END decision, answered with no words): the new connection will
  never end or transcribe it.
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
import base64
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import (
    LLM,
    STT,
    TTS,
    VAD,
    ProviderError,
    STTStream,
    Transcript,
    TTSChunk,
    TTSStream,
    VADEvent,
    VADEventKind,
    VADOutput,
    VADStream,
    close_generator,
)
from parley.providers.cloud import realtime_wire as wire
from parley.providers.cloud.common import (
    CredentialsError,
    StalledError,
    close_quietly,
    closed_error,
    credentials_problem,
    dumps,
    open_websocket,
    redact,
    require_key,
)
from parley.providers.cloud.config import OpenAIRealtimeSettings
from parley.providers.cloud.realtime_link import INPUT_RATE, PROVIDER, RealtimeLink, Response
from parley.providers.cloud.realtime_link import UserItem as _UserItem
from parley.providers.scope import SessionScope
from parley.types import ChatMessage

log = logging.getLogger("parley.cloud.realtime")
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
        link = _link(scope, self.settings)
        link.server_vad = True
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
            for kind, position in link.vad_events
        )
        link.vad_events.clear()
        return VADOutput(1.0 if link.speaking else 0.0, events)


# --- STT: the connection ---------------------------------------------------------------------


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


class RealtimeConnection(STTStream):
    """The socket of one realtime session, seen as the session's STT stream."""

    def __init__(self, link: RealtimeLink, policy: TurnTakingPolicy) -> None:
        self._link = link
        self._policy = policy
        self._settings = link.settings
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._out: asyncio.Queue[Transcript | ProviderError | None] = asyncio.Queue()
        self._hints = 0  # ends of speech not yet answered
        self._completed: deque[str] = deque()
        self._partials: dict[str, str] = {}
        self._commits: set[str] = set()
        self._ring: deque[bytes] = deque()  # recent audio (local-VAD mode: prefix padding)
        self._capturing = False
        self._configured = False  # the server accepted the session.update (session.updated)
        self._config_event = link.event_id()
        self._worker: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._closing = False
        self._base = link.pushed  # the link's samples before this connection's first audio
        if link.connections:
            link.needs_seed = True  # a reconnection: the server has lost the conversation
            link.fail_responses(ProviderError(f"{PROVIDER}: connection lost"))
            self._lose_speech()
        link.connections += 1
        link.send = self._enqueue
        self._iterator = self._transcripts()

    def _lose_speech(self) -> None:
        """The speech the lost connection was hearing ends here (it will never end it), and
        every end of speech not yet decided is answered with no words: the lost connection
        will transcribe none of them."""
        link = self._link
        if link.speaking:
            link.speaking = False
            link.vad_events.append((VADEventKind.END, self._base))
        link.lost_ends = sum(kind is VADEventKind.END for kind, _ in link.vad_events)

    @property
    def configured(self) -> bool:
        """The server accepted the session configuration (session.updated came)."""
        return self._configured

    @property
    def _dead(self) -> bool:
        """Closed, or the socket failed: nothing will send what is queued (the session
        replaces a failed stream)."""
        return self._closing or (self._worker is not None and self._worker.done())

    def _enqueue(self, event: dict[str, Any]) -> None:
        if not self._dead:
            self._outbox.put_nowait(event)

    # --- the session's side ---------------------------------------------------------------

    def push_audio(self, frame: AudioFrame) -> None:
        self._link.pushed += frame.samples  # the VAD facet's timeline, sent or not
        if self._dead:
            return
        pcm = frame.pcm
        if self._link.server_vad or self._capturing:
            self._append(pcm)
            return
        self._ring.append(pcm)  # local-VAD mode: keep the prefix padding until speech starts
        keep = self._policy.prefix_padding_ms * INPUT_RATE // 1000 * 2
        while len(self._ring) > 1 and sum(map(len, self._ring)) - len(self._ring[0]) >= keep:
            self._ring.popleft()

    def _append(self, pcm: bytes) -> None:
        self._enqueue(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
        )

    def speech_started(self) -> None:
        if self._link.server_vad or self._capturing:
            return
        self._capturing = True
        self._enqueue({"type": "input_audio_buffer.clear"})
        while self._ring:
            self._append(self._ring.popleft())

    def speech_ended(self) -> None:
        if self._link.lost_ends:  # an end of speech of a lost connection (see _lose_speech)
            self._link.lost_ends -= 1
            self._out.put_nowait(Transcript("", final=True, complete=True))
            return
        self._hints += 1
        if not self._link.server_vad:
            self._capturing = False
            event_id = self._link.event_id()
            self._commits.add(event_id)
            self._enqueue({"type": "input_audio_buffer.commit", "event_id": event_id})
        self._pair()

    def _pair(self) -> None:
        while self._hints and self._completed:
            self._hints -= 1
            self._out.put_nowait(Transcript(self._completed.popleft(), final=True, complete=True))

    def __aiter__(self) -> AsyncIterator[Transcript]:
        return self._iterator

    async def _transcripts(self) -> AsyncGenerator[Transcript, None]:
        if self._worker is None and not self._closing:
            self._worker = asyncio.create_task(self._work(), name="realtime connection")
        while (item := await self._out.get()) is not None:
            if isinstance(item, ProviderError):
                raise item
            yield item

    async def aclose(self) -> None:
        self._closing = True
        worker, ws = self._worker, self._ws
        if worker is not None and not worker.done():
            worker.cancel()
            await asyncio.wait({worker}, timeout=1.0)
        if ws is not None:
            await close_quietly(ws, 0.5)
        self._out.put_nowait(None)
        await close_generator(self._iterator)

    # --- the socket -----------------------------------------------------------------------

    def session_config(self) -> dict[str, Any]:
        s, link = self._settings, self._link
        turn_detection = wire.turn_detection(self._policy)
        output = {"type": "audio/pcmu"} if link.output_rate == 8000 else {
            "type": "audio/pcm", "rate": 24000}  # fmt: skip
        session: dict[str, Any] = {
            "type": "realtime",
            "output_modalities": ["audio"],
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": INPUT_RATE},
                    "transcription": {"model": s.transcription_model},
                    "turn_detection": turn_detection if link.server_vad else None,
                },
                "output": {"format": output, "voice": s.voice},
            },
        }
        if link.instructions is not None:
            session["instructions"] = link.instructions
        return {"type": "session.update", "event_id": self._config_event, "session": session}

    async def _work(self) -> None:
        s = self._settings
        try:
            key = require_key(
                s.api_key, PROVIDER, s.key_variable, "PARLEY_OPENAI_REALTIME__API_KEY"
            )
            url = f"{s.base_url}?{urlencode({'model': s.model})}"
            headers = {"Authorization": f"Bearer {key.get_secret_value()}"}
            ws = self._ws = await open_websocket(
                url, headers, provider=PROVIDER, open_timeout=s.connect_timeout_s, secret=key
            )
            await ws.send(dumps(self.session_config()))
            sender = asyncio.create_task(self._send(ws))
            try:
                await self._receive(ws)
            finally:
                sender.cancel()
        except ConnectionClosed as exc:
            self._failed(closed_error(PROVIDER, exc, s.api_key))
        except ProviderError as exc:
            self._failed(exc)

    def _failed(self, error: ProviderError) -> None:
        self._link.fail_responses(error)
        self._out.put_nowait(error)

    async def _send(self, ws: ClientConnection) -> None:
        while True:
            await ws.send(dumps(await self._outbox.get()))

    async def _receive(self, ws: ClientConnection) -> None:
        async for raw in ws:
            try:
                event = wire.parse_event(raw)
            except ValueError as exc:  # not JSON, or not the event its type says
                log.debug("ignored a malformed event (%s): %.80s", type(exc).__name__, raw)
                continue
            if event is not None:
                self._handle(event)
        raise ProviderError(f"{PROVIDER}: the server closed the connection")

    def _handle(self, event: Any) -> None:
        link = self._link
        match event:
            case wire.SessionUpdated():
                self._configured = True
            case wire.SpeechStarted():
                link.speaking = True
                link.vad_events.append((VADEventKind.START, self._position(self._onset(event))))
            case wire.SpeechStopped():  # audio_end_ms includes the silence that ended it
                link.speaking = False
                end = max(0, event.audio_end_ms - self._policy.min_silence_ms)
                link.vad_events.append((VADEventKind.END, self._position(end)))
            case wire.Committed():
                link.user_items.append(_UserItem(event.item_id))
            case wire.TranscriptionDelta():
                text = self._partials.get(event.item_id, "") + event.delta
                self._partials[event.item_id] = text
                self._out.put_nowait(Transcript(text.strip(), final=False))
            case wire.TranscriptionCompleted() | wire.TranscriptionFailed():
                text = (
                    event.transcript.strip()
                    if isinstance(event, wire.TranscriptionCompleted)
                    else ""
                )
                self._partials.pop(event.item_id, None)
                for item in link.user_items:
                    if item.id == event.item_id:
                        item.transcript = text
                self._completed.append(text)
                self._pair()
            case wire.ResponseCreated():
                link.created(event.response.id)
            case wire.AudioDelta():
                link.audio(event.response_id, event.item_id, event.delta)
            case wire.AudioTranscriptDelta():
                link.transcript_delta(event.response_id, event.item_id, event.delta)
            case wire.AudioDone():
                link.item_progress(event.response_id, event.item_id, audio=True)
            case wire.AudioTranscriptDone():
                link.item_progress(event.response_id, event.item_id, transcript=event.transcript)
            case wire.ResponseDone():
                details = str((event.response.status_details or {}).get("error", ""))
                link.response_done(event.response.id, event.response.status, details)
            case wire.ServerError():
                self._on_error(event.error)

    def _onset(self, event: wire.SpeechStarted) -> int:
        """The onset (ms) of speech whose audio_start_ms includes the prefix padding. The
        server cannot start before the connection's first audio: 0 means an onset within
        the first prefix_padding_ms, taken as 0 (early rather than late)."""
        ms = event.audio_start_ms
        return ms + self._policy.prefix_padding_ms if ms > 0 else 0

    def _position(self, ms: int) -> int:
        """A position in this connection's input audio, on the link's timeline."""
        return self._base + ms * INPUT_RATE // 1000

    def _on_error(self, error: wire.ErrorDetail) -> None:
        message = redact(f"{error.code or error.type}: {error.message}", self._settings.api_key)
        if error.code == "response_cancel_not_active":
            return  # the response had ended already
        if error.code == "invalid_api_key" or credentials_problem(error.type or ""):
            raise CredentialsError(f"{PROVIDER}: bad credentials ({error.code})")
        if not self._configured and error.event_id in (self._config_event, None):
            raise ProviderError(f"{PROVIDER}: the server refused the session ({message})")
        if error.event_id in self._commits:  # nothing to commit: the end of speech has no words
            self._commits.discard(error.event_id)
            self._completed.append("")
            self._pair()
            return
        if self._link.request_failed(error.event_id, ProviderError(f"{PROVIDER}: {message}")):
            return
        log.warning("%s: %s", PROVIDER, message)


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
        return self._text(link, link.new_response(), tuple(messages))

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
        response, link.unpaired = link.unpaired, None
        if response is None:
            raise ProviderError(f"{PROVIDER}: the TTS facet speaks the LLM facet's response")
        choice = self.settings.output_format
        rate = 8000 if choice == "pcmu" or (choice == "auto" and output_rate == 8000) else 24000
        if rate != link.output_rate:
            link.output_rate = rate
            output = {"type": "audio/pcmu"} if rate == 8000 else {"type": "audio/pcm", "rate": rate}
            link.send({"type": "session.update", "session": {
                "type": "realtime", "audio": {"output": {"format": output}}}})  # fmt: skip
        return _RealtimeSpeech(link, response, self.settings.response_timeout_s)


class _RealtimeSpeech(TTSStream):
    def __init__(self, link: RealtimeLink, response: Response, timeout: float) -> None:
        self._link = link
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
        self._link.cut(self.response, played)

    async def aclose(self) -> None:
        if not self.response.done:
            self._link.cut(self.response, None)
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
