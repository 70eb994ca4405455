"""ElevenLabs text-to-speech over the multi-context websocket.

One socket per session (kept in the session's SessionScope, closed with it), one context per
response: a new response never waits for a connection, and cancelling one never closes the
socket. ElevenLabs allows 5 contexts per socket; contexts are closed as soon as their input
ends.

A response's text goes out as pushed (first a one-space message that opens the context);
end of input sends flush and then close_context, and the speech is over when ElevenLabs
answers isFinal for the context: the only end signal (the character alignment is best
effort: null on some messages, split differently from the audio, so it cannot be counted).
close_context waits for the context's first audio (at most CLOSE_GRACE_S after the flush):
a close that reaches the server before it has taken the text may end the context silently.
A response that never had text ends at once: nothing to speak.

A cancelled response's context is closed and forgotten at once: the server goes on sending
the audio it had been asked to flush, and all of it is dropped by context id (counted in
`late_chunks_dropped`), never played.

ElevenLabs closes a socket that has been sent nothing for `inactivity_timeout` seconds
(input_timeout_exceeded, 1008). After `keepalive_s` without sending, the socket sends an
empty text to each open context (or a context-less one when none is open), as pipecat does.

Alignment becomes word timings on the response's timeline, which is how the history knows
what was heard. The output format follows the transport: ulaw_8000 for 8 kHz (phone)
transports, decoded here to PCM16; PCM at the nearest rate otherwise.

A socket reader task belongs to the socket; it routes messages to their contexts and turns
a dropped socket into an error for each context in use (the next response reconnects).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from parley.audio.codecs import alaw_to_pcm16, ulaw_to_pcm16
from parley.audio.frames import AudioFrame
from parley.providers.base import TTS, ProviderError, TTSChunk, TTSStream, close_generator
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
from parley.providers.cloud.config import ElevenLabsSettings
from parley.providers.cloud.elevenlabs_wire import ServerMessage, WordAligner
from parley.providers.scope import SessionScope

log = logging.getLogger("parley.cloud.elevenlabs")
PROVIDER = "elevenlabs"
PCM_RATES = (8000, 16000, 22050, 24000, 44100)
CLOSE_GRACE_S = 2.0  # longest wait for first audio before close_context follows a flush


def output_format_for(output_rate: int | None) -> str:
    """The format that suits a transport playing at `output_rate`."""
    if output_rate == 8000:
        return "ulaw_8000"
    if output_rate in PCM_RATES:
        return f"pcm_{output_rate}"
    if output_rate is not None and output_rate > 44100:
        return "pcm_44100"
    return "pcm_16000"


def decoder_for(output_format: str) -> tuple[int, Any]:
    """(sample rate, bytes -> PCM16 bytes) of an output format parley can play."""
    kind, _, rest = output_format.partition("_")
    rate = int(rest) if rest.isdigit() else 0
    decoders = {"pcm": lambda b: b, "ulaw": ulaw_to_pcm16, "alaw": alaw_to_pcm16}
    if kind not in decoders or rate == 0:
        raise ProviderError(f"{PROVIDER}: output format {output_format!r} is not PCM, ulaw or alaw")
    return rate, decoders[kind]


class ElevenLabsTTS(TTS):
    name = "elevenlabs"
    sample_rate = 16000  # when the output rate is not known; chunks carry their own rate

    def __init__(self, settings: ElevenLabsSettings, socket: _Socket | None = None) -> None:
        self.settings = settings
        self._socket = socket

    def for_session(self, scope: SessionScope) -> ElevenLabsTTS:
        def create() -> _Socket:
            socket = _Socket(self.settings)
            scope.on_close(socket.aclose)
            return socket

        return ElevenLabsTTS(self.settings, scope.get((ElevenLabsTTS, id(self)), create))

    def stream(self, output_rate: int | None = None) -> ElevenLabsStream:
        output_format = self.settings.output_format or output_format_for(output_rate)
        if self._socket is not None:
            return ElevenLabsStream(self._socket, output_format, owns_socket=False)
        return ElevenLabsStream(_Socket(self.settings), output_format, owns_socket=True)

    @property
    def socket(self) -> _Socket | None:
        return self._socket


class _Context:
    def __init__(self, context_id: str) -> None:
        self.id = context_id
        # None: input ended with no text, so there is no speech to wait for
        self.inbox: asyncio.Queue[ServerMessage | ProviderError | None] = asyncio.Queue()
        self.opened = False  # its opening message went out (keep-alives may name it)
        self.closed = False  # close_context went out
        self.heard = asyncio.Event()  # audio of it has arrived


class _Socket:
    """One websocket and the contexts open on it."""

    def __init__(self, settings: ElevenLabsSettings) -> None:
        self.settings = settings
        self._ws: ClientConnection | None = None
        self._format: str | None = None
        self._reader: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._contexts: dict[str, _Context] = {}
        self._ids = itertools.count(1)
        self._last_sent = 0.0  # loop time of the last message sent
        self.connections = 0
        self.late_chunks_dropped = 0
        self.keepalives_sent = 0

    def open_context(self) -> _Context:
        context = _Context(f"parley-{next(self._ids)}")
        self._contexts[context.id] = context
        return context

    def release(self, context: _Context) -> None:
        """Forget a context: whatever still arrives for it is dropped."""
        self._contexts.pop(context.id, None)

    async def send(
        self, output_format: str, message: dict[str, Any], *, connect: bool = True
    ) -> None:
        async with self._lock:
            if not connect and self._ws is None:
                return
            ws = await self._connected(output_format)
            await self._send(ws, message)

    async def _send(self, ws: ClientConnection, message: dict[str, Any]) -> None:
        try:
            await ws.send(dumps(message))
        except ConnectionClosed as exc:
            raise closed_error(PROVIDER, exc, self.settings.api_key) from None
        self._last_sent = asyncio.get_running_loop().time()

    async def _connected(self, output_format: str) -> ClientConnection:
        if self._ws is not None and self._format == output_format:
            return self._ws
        if self._ws is not None:  # another format: a new socket (not expected within a call)
            await self._drop()
        s = self.settings
        key = require_key(s.api_key, PROVIDER, s.key_variable, "PARLEY_ELEVENLABS__API_KEY")
        query = urlencode({"model_id": s.model, "output_format": output_format,
                           "inactivity_timeout": s.inactivity_timeout_s,
                           "sync_alignment": "true"})  # fmt: skip
        url = f"{s.base_url.rstrip('/')}/text-to-speech/{s.voice_id}/multi-stream-input?{query}"
        ws = await open_websocket(url, {"xi-api-key": key.get_secret_value()}, provider=PROVIDER,
                                  open_timeout=s.connect_timeout_s, secret=key)  # fmt: skip
        self.connections += 1
        self._ws, self._format = ws, output_format
        self._last_sent = asyncio.get_running_loop().time()
        self._reader = asyncio.create_task(self._read(ws), name="elevenlabs reader")
        self._keeper = asyncio.create_task(self._keep_alive(ws), name="elevenlabs keep-alive")
        return ws

    async def _keep_alive(self, ws: ClientConnection) -> None:
        """Send an empty text whenever `keepalive_s` passed without sending: to each open
        context (it resets that context's timeout too), or context-less when none is open."""
        loop = asyncio.get_running_loop()
        interval = self.settings.keepalive_s
        while self._ws is ws:
            wait = self._last_sent + interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            async with self._lock:
                if self._ws is not ws:
                    return
                targets = [c.id for c in self._contexts.values() if c.opened and not c.closed]
                messages = [{"text": "", "context_id": c} for c in targets] or [{"text": ""}]
                try:
                    for message in messages:
                        await self._send(ws, message)
                        self.keepalives_sent += 1
                except ProviderError:
                    return  # the reader reports the closed socket

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                try:
                    message = ServerMessage.model_validate_json(raw)
                except ValidationError:
                    log.debug("ignored a message ElevenLabs sent: %.80s", raw)
                    continue
                if message.error and message.context_id is None:
                    self._fail_all(self.error_of(message))
                    continue
                context = self._contexts.get(message.context_id or "")
                if context is None:  # closed or cancelled: its audio never plays
                    self.late_chunks_dropped += bool(message.audio)
                    continue
                if message.audio:
                    context.heard.set()
                context.inbox.put_nowait(message)
            error: ProviderError = ProviderError(f"{PROVIDER}: the server closed the socket")
        except ConnectionClosed as exc:
            error = closed_error(PROVIDER, exc, self.settings.api_key)
        if self._ws is ws:
            self._ws = None
        self._fail_all(error)

    def error_of(self, message: ServerMessage) -> ProviderError:
        text = f"{message.error}: {message.message or ''}".strip(": ")
        text = redact(text, self.settings.api_key)
        if credentials_problem(text):
            return CredentialsError(f"{PROVIDER}: bad credentials ({text})")
        return ProviderError(f"{PROVIDER}: {text}")

    def _fail_all(self, error: ProviderError) -> None:
        for context in self._contexts.values():
            context.inbox.put_nowait(error)

    async def _drop(self) -> None:
        ws, reader, keeper = self._ws, self._reader, self._keeper
        self._ws = self._reader = self._keeper = None
        for task in (reader, keeper):
            if task is not None:
                task.cancel()
        if ws is not None:
            await close_quietly(ws, 0.5)

    async def aclose(self) -> None:
        ws = self._ws
        if ws is not None:
            try:
                async with asyncio.timeout(0.5):
                    await ws.send(dumps({"close_socket": True}))
            except (TimeoutError, ConnectionClosed, OSError):
                pass
        await self._drop()


class ElevenLabsStream(TTSStream):
    def __init__(self, socket: _Socket, output_format: str, *, owns_socket: bool) -> None:
        self._socket = socket
        self._format = output_format
        self._rate, self._decode = decoder_for(output_format)
        self._owns_socket = owns_socket
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._context: _Context | None = None
        self._sender: asyncio.Task[None] | None = None
        self._input_done = False
        self._iterator = self._chunks()

    @property
    def context_id(self) -> str | None:
        return self._context.id if self._context else None

    def push_text(self, text: str) -> None:
        if text.strip() and not self._input_done:
            self._outbox.put_nowait(text if text.endswith(" ") else text + " ")

    def end_input(self) -> None:
        if not self._input_done:
            self._input_done = True
            self._outbox.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[TTSChunk]:
        return self._iterator

    async def _send_text(self, context: _Context) -> None:
        s = self._socket.settings
        opening: dict[str, Any] = {"text": " ", "context_id": context.id}
        chosen = {"stability": s.stability, "similarity_boost": s.similarity_boost}
        chosen["speed"] = s.speed
        voice = {k: v for k, v in chosen.items() if v is not None}
        if voice:
            opening["voice_settings"] = voice
        sent_text = False
        try:
            await self._socket.send(self._format, opening)
            context.opened = True
            while (text := await self._outbox.get()) is not None:
                sent_text = True
                await self._socket.send(self._format, {"text": text, "context_id": context.id})
            if not sent_text:  # nothing to say (an empty reply, or the LLM failed)
                context.inbox.put_nowait(None)
                return
            await self._socket.send(self._format, {"context_id": context.id, "flush": True})
            # Close once the server has surely taken the text (see the module docstring);
            # it then sends the rest of the audio and isFinal.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(context.heard.wait(), CLOSE_GRACE_S)
            context.closed = True
            close = {"context_id": context.id, "close_context": True}
            await self._socket.send(self._format, close, connect=False)
        except ProviderError as exc:
            context.inbox.put_nowait(exc)

    async def _chunks(self) -> AsyncGenerator[TTSChunk, None]:
        context = self._context = self._socket.open_context()
        self._sender = asyncio.create_task(self._send_text(context), name="elevenlabs sender")
        aligner = WordAligner()
        played = 0.0  # seconds of this response's audio so far
        timeout = self._socket.settings.first_audio_timeout_s
        while True:
            try:
                async with asyncio.timeout(timeout):
                    message = await context.inbox.get()
            except TimeoutError:
                raise StalledError(f"{PROVIDER}: no audio within {timeout:g} s") from None
            if message is None:
                return
            if isinstance(message, ProviderError):
                raise message
            if message.error:
                raise self._socket.error_of(message)
            words = aligner.add(message.alignment or message.normalized_alignment, played)
            pcm = self._decode(base64.b64decode(message.audio)) if message.audio else b""
            frame = AudioFrame(pcm, self._rate)
            played += frame.duration
            done = bool(message.is_final)
            if done:
                words += aligner.finish()
            if frame.samples or words:
                yield TTSChunk(frame, tuple(words))
            if done:
                return

    async def aclose(self) -> None:
        """Forget the context (whatever still arrives for it is dropped) and, when it was
        not closed yet (a cancelled response), close it at once."""
        context, sender = self._context, self._sender
        if sender is not None and not sender.done():
            sender.cancel()
        if context is not None:
            self._socket.release(context)
            if not context.closed:
                context.closed = True
                try:
                    close = {"context_id": context.id, "close_context": True}
                    await self._socket.send(self._format, close, connect=False)
                except ProviderError as exc:
                    log.debug("closing context %s: %s", context.id, exc)
        await close_generator(self._iterator)
        if self._owns_socket:
            await self._socket.aclose()
