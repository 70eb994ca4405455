"""A fake ElevenLabs multi-context TTS websocket, faithful to the documented protocol and to
what the real service is seen to do.

`/v1/text-to-speech/{voice}/multi-stream-input?model_id=..&output_format=..`, key in
`xi-api-key` (a wrong key is refused at the handshake with 401, or, with
`reject_after_open`, answered by an error message and a 1008 close). A context opens with its
first message; text is buffered until 120 characters or a flush, then spoken word by word:
each word is `word_s` of audio in its own chunk, with character alignment relative to the
chunk. A flush alone never ends a context: close_context does. The server then goes on
speaking all the text already flushed (the client must drop that audio if it cancelled),
sends isFinal and forgets the context; unflushed text is discarded. An empty text is a
keep-alive (it opens no context). close_socket closes 1000. More than 5 open contexts is an
error (max_active_conversations, close 1008). Nothing received for the `inactivity_timeout`
query value (default 20 s; `inactivity_timeout_s` overrides it so tests stay fast) is an
error (input_timeout_exceeded) and a 1008 close. Samples count up across the connection
(PCM16), so a listener's recording shows lost or repeated audio.

Alignment, as `alignment` says: "exact" (each chunk's own characters), "null" (alignment and
normalizedAlignment null), "null_lists" (their lists null), or "split" (characters cut into
messages at other places than the audio: the first chunk has none, and every later one
carries the characters of the one before, cut three characters later, words straddling two
messages). Faults: drop the connection (no close frame) or stall after so many chunks.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from parley.audio.codecs import pcm16_to_ulaw

KEY = "xi-test-0123456789abcdef"
FORMATS = {
    "pcm_8000": 8000,
    "pcm_16000": 16000,
    "pcm_22050": 22050,
    "pcm_24000": 24000,
    "pcm_44100": 44100,
    "ulaw_8000": 8000,
}
SCHEDULE_FIRST = 120
MAX_CONTEXTS = 5
DEFAULT_INACTIVITY_S = 20.0


@dataclass
class FakeElevenLabs:
    key: str = KEY
    word_s: float = 0.25
    first_byte_s: float = 0.03
    chunk_s: float = 0.005
    alignment: Literal["exact", "null", "null_lists", "split"] = "exact"
    inactivity_timeout_s: float | None = None  # None: the query's inactivity_timeout
    reject_after_open: bool = False
    drop_after_chunks: int | None = None
    stall_after_chunks: int | None = None
    # what happened
    connections: int = 0
    queries: list[dict[str, list[str]]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    chunks_sent: int = 0
    late_sent: int = 0  # audio chunks sent for contexts after their close_context
    keepalives: int = 0
    timeouts: int = 0  # sockets closed for inactivity
    spoken: list[str] = field(default_factory=list)  # words, in order
    next_sample: int = 0

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("xi-api-key") != self.key and not self.reject_after_open:
            body = {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}
            return connection.respond(HTTPStatus.UNAUTHORIZED, json.dumps(body))
        return None

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        request = ws.request
        assert request is not None
        query = parse_qs(urlsplit(request.path).query)
        self.queries.append(query)
        if request.headers.get("xi-api-key") != self.key:
            await ws.send(
                json.dumps({"message": "Invalid API key", "error": "invalid_api_key", "code": 1008})
            )
            await ws.close(1008, "Invalid API key")
            return
        output_format = query.get("output_format", ["mp3_44100_128"])[0]
        if output_format not in FORMATS:
            await ws.close(1008, f"unsupported output_format {output_format}")
            return
        timeout = self.inactivity_timeout_s
        if timeout is None:
            timeout = float(query.get("inactivity_timeout", [DEFAULT_INACTIVITY_S])[0])
        await _Socket(self, ws, output_format, timeout).run()


@dataclass
class _Context:
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    buffer: str = ""
    closed: bool = False
    speaker: asyncio.Task[None] | None = None
    chunks: int = 0  # audio chunks sent
    pending_chars: list[str] = field(default_factory=list)  # "split": characters held back


class _Socket:
    def __init__(
        self, fake: FakeElevenLabs, ws: ServerConnection, output_format: str, timeout: float
    ) -> None:
        self.fake, self.ws, self.format = fake, ws, output_format
        self.rate = FORMATS[output_format]
        self.timeout = timeout
        self.contexts: dict[str, _Context] = {}  # open (not closed) contexts
        self.speakers: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        try:
            while True:
                try:
                    raw = await asyncio.wait_for(self.ws.recv(), self.timeout)
                except TimeoutError:
                    await self.time_out()
                    return
                message = json.loads(raw)
                self.fake.received.append(message)
                if message.get("close_socket"):
                    await self.ws.close(1000)
                    return
                await self.handle(message)
        except ConnectionClosed:
            pass
        finally:
            for task in self.speakers:
                task.cancel()

    async def time_out(self) -> None:
        self.fake.timeouts += 1
        seconds = f"{self.timeout:.1f}"
        message = (
            f"Have not received a new text input within the timeout of {seconds} seconds. "
            "Streaming input terminated. Please make sure to either feed the input in the "
            'timely manner, or to send the end of input text (empty string "") when done.'
        )
        await self.send({"message": message, "error": "input_timeout_exceeded", "code": 1008})
        await self.ws.close(1008, message[:120])

    async def handle(self, message: dict[str, Any]) -> None:
        context_id = message.get("context_id", "default")
        context = self.contexts.get(context_id)
        if message.get("close_context"):
            if context is not None:
                self.close_context(context_id, context)
            return
        text = message.get("text")
        if text == "" and not message.get("flush"):
            self.fake.keepalives += 1  # resets the timeout (the recv above), opens nothing
            return
        if context is None:
            if len(self.contexts) >= MAX_CONTEXTS:
                await self.send(
                    {
                        "message": "Maximum simultaneous contexts per WebSocket "
                        "connection exceeded (5).",
                        "error": "max_active_conversations",
                        "code": 1008,
                    }
                )
                await self.ws.close(1008, "max_active_conversations")
                return
            context = self.contexts[context_id] = _Context()
            context.speaker = asyncio.create_task(self.speak(context_id, context))
            self.speakers.add(context.speaker)
        context.buffer += text or ""
        if message.get("flush") or len(context.buffer) >= SCHEDULE_FIRST:
            flushed, context.buffer = context.buffer, ""
            if flushed.strip():
                context.queue.put_nowait(flushed)

    def close_context(self, context_id: str, context: _Context) -> None:
        """Unflushed text is dropped; what was flushed is still spoken, then isFinal."""
        del self.contexts[context_id]
        context.closed = True
        context.buffer = ""
        context.queue.put_nowait("")  # wakes the speaker: nothing more will come

    async def speak(self, context_id: str, context: _Context) -> None:
        fake = self.fake
        while True:
            text = await context.queue.get()
            if not text and context.closed and context.queue.empty():
                await self.chunk(context_id, context, None, last=True)
                await self.send({"isFinal": True, "contextId": context_id})
                return
            for word in text.split():
                await asyncio.sleep(fake.chunk_s if context.chunks else fake.first_byte_s)
                if (
                    fake.drop_after_chunks is not None
                    and fake.chunks_sent >= fake.drop_after_chunks
                ):
                    self.ws.transport.abort()
                    return
                if (
                    fake.stall_after_chunks is not None
                    and fake.chunks_sent >= fake.stall_after_chunks
                ):
                    await asyncio.Event().wait()
                if context.closed:
                    fake.late_sent += 1
                await self.chunk(context_id, context, word)
                fake.spoken.append(word)

    async def chunk(
        self, context_id: str, context: _Context, word: str | None, *, last: bool = False
    ) -> None:
        """One word's audio and its alignment (or, `last`, the characters "split" still
        holds back, with no audio)."""
        if word is None:
            if not context.pending_chars:
                return
            pcm, chars = b"", []
        else:
            count = round(self.fake.word_s * self.rate)
            values = (np.arange(self.fake.next_sample, self.fake.next_sample + count) % 30000) + 1
            self.fake.next_sample += count
            pcm = values.astype("<i2").tobytes()
            chars = list(word + " ")
        mode = self.fake.alignment
        if mode == "split":
            context.pending_chars += chars
            if last:
                chars, context.pending_chars = context.pending_chars, []
            elif not context.chunks:
                chars = []
            else:  # hold back this word's characters but its first three
                cut = len(context.pending_chars) - max(0, len(chars) - 3)
                chars, context.pending_chars = (
                    context.pending_chars[:cut],
                    context.pending_chars[cut:],
                )
        step = self.fake.word_s * 1000 / max(1, len(chars))
        alignment: dict[str, Any] | None = {
            "chars": chars,
            "charStartTimesMs": [round(i * step) for i in range(len(chars))],
            "charDurationsMs": [round(step)] * len(chars),
        }
        if mode == "null" or (mode == "split" and not chars):
            alignment = None
        elif mode == "null_lists":
            alignment = {"chars": None, "charStartTimesMs": None, "charDurationsMs": None}
        audio = pcm16_to_ulaw(pcm) if self.format.startswith("ulaw") else pcm
        if word is not None:
            self.fake.chunks_sent += 1
            context.chunks += 1
        await self.send(
            {
                "audio": base64.b64encode(audio).decode(),
                "contextId": context_id,
                "isFinal": None,
                "alignment": alignment,
                "normalizedAlignment": alignment,
            }
        )

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))
