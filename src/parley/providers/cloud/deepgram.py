"""Deepgram live speech-to-text over its websocket.

The session pushes every inbound frame (16 kHz PCM16, silence included); they go out as
binary frames in order. Interim results become partial transcripts, final ones final
transcripts. The local VAD's end-of-speech hint sends Finalize, and its answer (results
marked from_finalize) is the turn's final marked complete. Deepgram may not answer a
Finalize when it holds no audio, so the turn is also complete when Deepgram had already
endpointed the speech (speech_final or UtteranceEnd, no words since), or when a final
covers the audio up to the hint, or, last, after `finalize_timeout_ms`.

Reconnection without losing the turn: audio is kept from the end of the last final result
(what Deepgram has acknowledged) on. When the connection drops, the stream reconnects with
backoff and replays that audio first, followed by any Finalize still unanswered, so the
words of a turn in progress are transcribed again on the new connection, and timestamps are
shifted back onto the stream's own timeline. Only finals are ever yielded for audio once,
so nothing is said twice. Frames pushed meanwhile queue and follow. Bad credentials, or more
than `reconnect_attempts` failures in a row, fail the stream (the session then reopens one).
A socket that stops taking audio (the server stopped reading; more than `send_backlog_s`
waiting beyond its replay) counts as dropped, so no queue grows without bound.

An `Error` message (Deepgram sends one before closing 1011, for instance) is logged at
warning with its description, which also becomes the connection's failure: it reaches the
session's error for the turn when the stream fails for good.

SpeechStarted (vad_events) is a hint: it marks that Deepgram hears speech again, so an
earlier endpoint no longer means the turn's words are all in. KeepAlive goes out after
`keepalive_s` without audio (Deepgram closes an idle socket after 10 s); aclose sends
CloseStream and waits briefly for the last results.

The connection runs in a worker task that the stream owns: started by the first read, ended
by `aclose` (which the session always calls, within its deadline).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import STT, ProviderError, STTStream, Transcript, close_generator
from parley.providers.cloud import deepgram_wire as wire
from parley.providers.cloud.common import (
    CredentialsError,
    backoff,
    close_quietly,
    closed_error,
    credentials_problem,
    open_websocket,
    redact,
    require_key,
)
from parley.providers.cloud.config import DeepgramSettings

log = logging.getLogger("parley.cloud.deepgram")
PROVIDER = "deepgram"
CLOSE_GRACE_S = 1.0  # how long aclose waits for the results that CloseStream flushes
COVERAGE_SLACK_S = 0.1  # a final ending this close to the hint covers it


class DeepgramSTT(STT):
    name = "deepgram"
    sample_rate = 16000

    def __init__(self, settings: DeepgramSettings) -> None:
        self.settings = settings

    def listen_url(self) -> str:
        s = self.settings
        params: dict[str, str | int] = {
            "model": s.model,
            "language": s.language,
            "encoding": "linear16",
            "sample_rate": self.sample_rate,
            "channels": 1,
            "interim_results": "true",
            "vad_events": "true",
            "smart_format": str(s.smart_format).lower(),
            "endpointing": "false" if s.endpointing_ms is None else s.endpointing_ms,
        }
        if s.utterance_end_ms is not None:
            params["utterance_end_ms"] = s.utterance_end_ms
        return f"{s.base_url}?{urlencode(params)}"

    def stream(self, policy: TurnTakingPolicy) -> DeepgramStream:
        return DeepgramStream(self)


@dataclass
class _Finalize:
    position: int  # samples pushed when the hint came
    timer: asyncio.TimerHandle | None = None  # runs from its sending, on that connection

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class _Connection:
    """One websocket's outbound queue and timeline offset."""

    def __init__(self, base: int) -> None:
        self.base = base  # stream sample at which this connection's time 0 lies
        self.received = 0  # messages received on it
        self.outbox: asyncio.Queue[tuple[int, bytes] | str] = asyncio.Queue()
        self.queued = 0  # samples of audio in the outbox
        self.replayed = 0  # samples queued by the replay when it opened
        self.error: str | None = None  # the description of an Error message it sent
        self.abort: Callable[[], None] | None = None  # drops its socket, once it has one


class DeepgramStream(STTStream):
    def __init__(self, stt: DeepgramSTT) -> None:
        self._stt = stt
        self._settings = stt.settings
        self._rate = stt.sample_rate
        self._pushed = 0  # samples pushed so far
        self._unacked: deque[tuple[int, bytes]] = deque()  # (start sample, pcm) not yet final
        self._unacked_samples = 0
        self._pending: deque[_Finalize] = deque()
        self._connection = _Connection(0)
        self._out: asyncio.Queue[Transcript | BaseException | None] = asyncio.Queue()
        self._open_words = False  # an interim with words is not yet final
        self._endpointed = False  # Deepgram ended an utterance since the speech began
        self._worker: asyncio.Task[None] | None = None
        self._closing = False
        self._iterator = self._transcripts()
        self.connections = 0  # websockets opened (tests and `parley check` read these)
        self.speech_started_events = 0

    # --- the session's side (synchronous, never blocks) -----------------------------------

    def push_audio(self, frame: AudioFrame) -> None:
        if self._closing or (self._worker is not None and self._worker.done()):
            return  # closed, or failed for good (the session replaces a failed stream)
        chunk = (self._pushed, frame.pcm)
        self._pushed += frame.samples
        self._unacked.append(chunk)
        self._unacked_samples += frame.samples
        limit = self._settings.replay_limit_s * self._rate
        while self._unacked_samples > limit and len(self._unacked) > 1:
            self._unacked_samples -= len(self._unacked.popleft()[1]) // 2
        self._send_later(chunk)

    def _send_later(self, chunk: tuple[int, bytes]) -> None:
        """Queue audio for the socket, unless the socket has stopped taking it: past
        `send_backlog_s` queued, the server counts as no longer reading, and the socket is
        dropped; the next one replays the unacknowledged audio, which holds this chunk."""
        connection = self._connection
        if connection.queued > self._settings.send_backlog_s * self._rate + connection.replayed:
            if connection.abort is not None:
                abort, connection.abort = connection.abort, None
                backlog = f"{connection.queued / self._rate:.1f} s of audio waiting to be sent"
                connection.error = connection.error or f"the server stopped reading ({backlog})"
                log.warning("%s: %s; dropping the socket", PROVIDER, connection.error)
                abort()
            return
        connection.queued += len(chunk[1]) // 2
        connection.outbox.put_nowait(chunk)

    @property
    def backlog_s(self) -> float:
        """Audio queued for the current socket and not yet sent."""
        return self._connection.queued / self._rate

    def speech_started(self) -> None:
        self._endpointed = False

    def speech_ended(self) -> None:
        if not self._open_words and self._endpointed:
            self._out.put_nowait(Transcript("", final=True, complete=True))
            return
        self._pending.append(_Finalize(self._pushed))
        self._connection.outbox.put_nowait(wire.FINALIZE)

    def __aiter__(self) -> AsyncIterator[Transcript]:
        return self._iterator

    async def _transcripts(self) -> AsyncGenerator[Transcript, None]:
        if self._worker is None and not self._closing:
            self._worker = asyncio.create_task(self._work(), name="deepgram connection")
        while (item := await self._out.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    async def aclose(self) -> None:
        if self._closing:
            return
        self._closing = True
        worker = self._worker
        try:
            if worker is not None and not worker.done():
                self._connection.outbox.put_nowait(wire.CLOSE_STREAM)
                await asyncio.wait({worker}, timeout=CLOSE_GRACE_S)
        finally:
            if worker is not None and not worker.done():
                worker.cancel()
                await asyncio.wait({worker}, timeout=CLOSE_GRACE_S)
            self._out.put_nowait(None)
            await close_generator(self._iterator)

    # --- the connection -------------------------------------------------------------------

    async def _work(self) -> None:
        s = self._settings
        key = require_key(s.api_key, PROVIDER, s.key_variable, "PARLEY_DEEPGRAM__API_KEY")
        headers = {"Authorization": f"Token {key.get_secret_value()}"}
        failures = 0
        try:
            while not self._closing:
                try:
                    ws = await open_websocket(
                        self._stt.listen_url(),
                        headers,
                        provider=PROVIDER,
                        open_timeout=s.connect_timeout_s,
                        secret=key,
                    )
                except CredentialsError:
                    raise
                except ProviderError as exc:
                    failures += 1
                    if failures > s.reconnect_attempts:
                        raise
                    log.warning("%s; retrying (%d)", exc, failures)
                    await asyncio.sleep(backoff(failures, 0.2))
                    continue
                self.connections += 1
                connection = _Connection(self._unacked[0][0] if self._unacked else self._pushed)
                try:
                    await self._run(ws, connection)
                    return  # closed cleanly after CloseStream
                except ProviderError as exc:
                    if isinstance(exc, CredentialsError) or self._closing:
                        raise
                    failures = 1 if connection.received else failures + 1
                    if failures > s.reconnect_attempts:
                        raise
                    replay = self._unacked_samples / self._rate
                    log.warning("%s; reconnecting, replaying %.2f s of audio", exc, replay)
                    await asyncio.sleep(backoff(failures, 0.05))
                finally:
                    ws.transport.abort()
        except ProviderError as exc:
            self._out.put_nowait(exc)

    async def _run(self, ws: ClientConnection, connection: _Connection) -> None:
        """Serve one connection: replay, send, receive. Returns when it closes cleanly
        after CloseStream; raises a ProviderError when it drops."""
        self._connection = connection
        connection.abort = ws.transport.abort
        self._replay(connection)
        sender = asyncio.create_task(self._send(ws, connection))
        try:
            await self._receive(ws, connection)
        except ConnectionClosedOK:
            if self._closing:
                return
            raise ProviderError(f"{PROVIDER}: the server closed the stream") from None
        except ConnectionClosed as exc:
            error = closed_error(PROVIDER, exc, self._settings.api_key)
            if connection.error is None:
                raise error from None
            kind = CredentialsError if credentials_problem(connection.error) else ProviderError
            raise kind(f"{PROVIDER}: {connection.error} ({error})") from None
        finally:
            sender.cancel()
            # A Finalize's timeout runs only while its connection lives: one unanswered at
            # a drop is sent again, with a new timeout, on the next connection.
            for finalize in self._pending:
                finalize.cancel_timer()
            await asyncio.wait({sender})
            if self._closing:
                await close_quietly(ws, 0.2)

    def _replay(self, connection: _Connection) -> None:
        """Queue the audio Deepgram has not acknowledged, and the unanswered Finalizes in
        their places, ahead of everything pushed from now on."""
        pending = deque(self._pending)
        for chunk in self._unacked:
            while pending and pending[0].position <= chunk[0]:
                pending.popleft()
                connection.outbox.put_nowait(wire.FINALIZE)
            connection.queued += len(chunk[1]) // 2
            connection.outbox.put_nowait(chunk)
        for _ in pending:
            connection.outbox.put_nowait(wire.FINALIZE)
        connection.replayed = connection.queued

    async def _send(self, ws: ClientConnection, connection: _Connection) -> None:
        loop = asyncio.get_running_loop()
        timeout = self._settings.finalize_timeout_ms / 1000
        while True:
            try:
                item = await asyncio.wait_for(connection.outbox.get(), self._settings.keepalive_s)
            except TimeoutError:
                await ws.send(wire.KEEP_ALIVE)
                continue
            if isinstance(item, tuple):
                connection.queued -= len(item[1]) // 2
                await ws.send(item[1])
                continue
            await ws.send(item)
            if item == wire.FINALIZE:
                # Finalizes go out in the order of the hints: this one is for the first
                # pending hint whose Finalize has not gone out on this connection yet.
                finalize = next((f for f in self._pending if f.timer is None), None)
                if finalize is not None:
                    finalize.timer = loop.call_later(timeout, self._expire, finalize)
            elif item == wire.CLOSE_STREAM:
                return

    async def _receive(self, ws: ClientConnection, connection: _Connection) -> None:
        while True:
            raw = await ws.recv()
            if isinstance(raw, bytes):
                connection.received += 1
                continue
            try:
                message = wire.SERVER_MESSAGE.validate_json(raw)
            except ValidationError:
                connection.received += 1
                log.debug("ignored a message Deepgram sent: %.80s", raw)
                continue
            if isinstance(message, wire.Error):  # not a sign the connection works
                connection.error = redact(message.text, self._settings.api_key)
                log.warning("%s: the server reported an error: %s", PROVIDER, connection.error)
                continue
            connection.received += 1
            self._handle(message, connection.base / self._rate)

    def _handle(self, message: wire.ServerMessage, base: float) -> None:
        match message:
            case wire.Results():
                self._on_results(message, base)
            case wire.UtteranceEnd():
                if not self._open_words:
                    self._endpointed = True
            case wire.SpeechStarted():
                self.speech_started_events += 1
                self._endpointed = False
            case wire.Metadata() | wire.Error():
                pass

    def _on_results(self, results: wire.Results, base: float) -> None:
        text = results.text
        if not results.is_final:
            if text:
                self._open_words = True
                self._endpointed = False
                self._out.put_nowait(Transcript(text, final=False))
            return
        self._acknowledge(base + results.end)
        self._open_words = False
        if results.speech_final:
            self._endpointed = True
        if results.from_finalize and self._pending:
            self._answer(text)
            return
        if text:
            self._out.put_nowait(Transcript(text, final=True))
        covered = round((base + results.end + COVERAGE_SLACK_S) * self._rate)
        if self._pending and covered >= self._pending[0].position:
            self._answer("")

    def _expire(self, finalize: _Finalize) -> None:
        # Timeouts run out in the order the Finalizes were sent, so an unanswered one is
        # the first pending; anything else was answered meanwhile.
        if self._pending and self._pending[0] is finalize:
            log.debug("no answer to Finalize; the turn's transcript is complete")
            self._answer("")

    def _answer(self, text: str) -> None:
        self._pending.popleft().cancel_timer()
        self._out.put_nowait(Transcript(text, final=True, complete=True))

    def _acknowledge(self, end: float) -> None:
        """Forget audio that a final result covered: it will never need replaying."""
        acked = round(end * self._rate)
        while self._unacked:
            start, pcm = self._unacked[0]
            if start + len(pcm) // 2 > acked:
                break
            self._unacked.popleft()
            self._unacked_samples -= len(pcm) // 2
