"""The socket of one OpenAI Realtime session, which is the session's STT stream.

It sends the input audio (24 kHz PCM16), yields the person's transcripts (each end of
speech is answered by its item's transcript, complete), and runs the socket in a worker task
it owns, which reads the server's events (realtime_wire.py) into the link: the server VAD's
decisions, moved onto the link's timeline (see realtime_facets.py), the person's items, and
the responses. With a local VAD, its hints make the stream commit the audio at each end of
speech. An error answering the first session.update fails the start; a dropped socket fails
the stream, and the session's next one reconnects (RealtimeLink.connection_opened). So does a
socket the server stopped reading (over `send_backlog_s` of audio waiting to be sent), so
no queue grows without bound.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import ProviderError, STTStream, Transcript, close_generator
from parley.providers.cloud import realtime_wire as wire
from parley.providers.cloud.common import (
    CredentialsError,
    close_quietly,
    closed_error,
    credentials_problem,
    dumps,
    open_websocket,
    redact,
    require_key,
)
from parley.providers.cloud.realtime_link import RealtimeLink
from parley.providers.cloud.realtime_responses import PROVIDER
from parley.providers.cloud.realtime_wire import INPUT_RATE

log = logging.getLogger("parley.cloud.realtime")


class RealtimeConnection(STTStream):
    """The socket of one realtime session, seen as the session's STT stream."""

    def __init__(self, link: RealtimeLink, policy: TurnTakingPolicy) -> None:
        self._link = link
        self._policy = policy
        self._settings = link.settings
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._queued_audio = 0  # bytes of input audio in the outbox
        self._fault: ProviderError | None = None  # why the stream gave the socket up
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
        # The link's samples before this connection's first audio; a reconnection fails
        # what the lost one had in flight (RealtimeLink.connection_opened).
        self._base = link.connection_opened(self._enqueue)
        self._iterator = self._transcripts()

    @property
    def configured(self) -> bool:
        """The server accepted the session configuration (session.updated came)."""
        return self._configured

    @property
    def _dead(self) -> bool:
        """Closed, or the socket failed: nothing will send what is queued (the session
        replaces a failed stream)."""
        return (
            self._closing
            or self._fault is not None
            or (self._worker is not None and self._worker.done())
        )

    def _enqueue(self, event: dict[str, Any]) -> None:
        if not self._dead:
            self._outbox.put_nowait(event)

    # --- the session's side ---------------------------------------------------------------

    def push_audio(self, frame: AudioFrame) -> None:
        self._link.audio_pushed(frame.samples)  # the VAD facet's timeline, sent or not
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
        """Queue audio for the socket, unless the server has stopped reading it: past
        `send_backlog_s` waiting, the stream fails (the session's next one reconnects)
        rather than queue a call's audio without bound."""
        if self._dead:
            return
        if (backlog := self.backlog_s) > self._settings.send_backlog_s:
            self._give_up(
                ProviderError(f"{PROVIDER}: the server stopped reading ({backlog:.1f} s of audio)")
            )
            return
        self._queued_audio += len(pcm)
        self._enqueue(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}
        )

    @property
    def backlog_s(self) -> float:
        """Input audio queued for the socket and not yet sent."""
        return self._queued_audio / 2 / INPUT_RATE

    def _give_up(self, error: ProviderError) -> None:
        log.warning("%s; dropping the socket", error)
        self._fault = error
        self._failed(error)
        if self._worker is not None:
            self._worker.cancel()
        if self._ws is not None:
            self._ws.transport.abort()

    def speech_started(self) -> None:
        if self._link.server_vad or self._capturing:
            return
        self._capturing = True
        self._enqueue({"type": "input_audio_buffer.clear"})
        while self._ring:
            self._append(self._ring.popleft())

    def speech_ended(self) -> None:
        if self._link.take_lost_end():  # no words will come for it (a lost connection's)
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
        link = self._link
        return wire.session_update(
            self._settings,
            self._config_event,
            turn_detection=wire.turn_detection(self._policy) if link.server_vad else None,
            output_rate=link.responses.output_rate,
            instructions=link.instructions,
        )

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
        self._link.responses.fail_all(error)
        self._out.put_nowait(error)

    async def _send(self, ws: ClientConnection) -> None:
        while True:
            event = await self._outbox.get()
            if event["type"] == "input_audio_buffer.append":
                self._queued_audio -= _decoded_length(event["audio"])
            await ws.send(dumps(event))

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
        link, responses = self._link, self._link.responses
        match event:
            case wire.SessionUpdated():
                self._configured = True
            case wire.SpeechStarted():
                link.speech_started(self._position(self._onset(event)))
            case wire.SpeechStopped():  # audio_end_ms includes the silence that ended it
                end = max(0, event.audio_end_ms - self._policy.min_silence_ms)
                link.speech_stopped(self._position(end))
            case wire.Committed():
                link.user_item_committed(event.item_id)
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
                link.user_item_transcribed(event.item_id, text)
                self._completed.append(text)
                self._pair()
            case wire.ResponseCreated():
                responses.created(event.response.id)
            case wire.AudioDelta():
                responses.audio(event.response_id, event.item_id, event.delta)
            case wire.AudioTranscriptDelta():
                responses.transcript_delta(event.response_id, event.item_id, event.delta)
            case wire.AudioDone():
                responses.item_progress(event.response_id, event.item_id, audio=True)
            case wire.AudioTranscriptDone():
                responses.item_progress(
                    event.response_id, event.item_id, transcript=event.transcript
                )
            case wire.ResponseDone():
                details = str((event.response.status_details or {}).get("error", ""))
                responses.response_done(event.response.id, event.response.status, details)
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
        failed = ProviderError(f"{PROVIDER}: {message}")
        if self._link.responses.request_failed(error.event_id, failed):
            return
        log.warning("%s: %s", PROVIDER, message)


def _decoded_length(encoded: str) -> int:
    """The length of what a base64 string decodes to, without decoding it."""
    return len(encoded) * 3 // 4 - encoded.endswith("=") - encoded.endswith("==")
