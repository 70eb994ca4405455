"""A fake ElevenLabs multi-context TTS websocket, faithful to the documented protocol.

`/v1/text-to-speech/{voice}/multi-stream-input?model_id=..&output_format=..`, key in
`xi-api-key` (a wrong key is refused at the handshake with 401, or, with
`reject_after_open`, answered by an error message and a 1008 close). A context opens with its
first message; text is buffered until 120 characters or a flush, then spoken word by word:
each word is `word_s` of audio in its own chunk, with character alignment relative to the
chunk. close_context stops the context (with `late_chunks` more chunks already in flight
sent anyway), answers isFinal and forgets it; close_socket closes 1000. More than 5 open
contexts is an error (max_active_conversations, close 1008). Samples count up across the
connection (PCM16), so a listener's recording shows lost or repeated audio. Faults: drop the
connection (no close frame) or stall after so many chunks.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
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


@dataclass
class FakeElevenLabs:
    key: str = KEY
    word_s: float = 0.25
    first_byte_s: float = 0.03
    chunk_s: float = 0.005
    late_chunks: int = 0
    reject_after_open: bool = False
    drop_after_chunks: int | None = None
    stall_after_chunks: int | None = None
    # what happened
    connections: int = 0
    queries: list[dict[str, list[str]]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    chunks_sent: int = 0
    late_sent: int = 0
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
        await _Socket(self, ws, output_format).run()


class _Socket:
    def __init__(self, fake: FakeElevenLabs, ws: ServerConnection, output_format: str) -> None:
        self.fake, self.ws, self.format = fake, ws, output_format
        self.rate = FORMATS[output_format]
        self.buffers: dict[str, str] = {}
        self.speakers: dict[str, asyncio.Task[None]] = {}
        self.queues: dict[str, asyncio.Queue[str]] = {}
        self.busy: set[str] = set()  # contexts in the middle of speaking

    async def run(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                self.fake.received.append(message)
                if message.get("close_socket"):
                    await self.ws.close(1000)
                    return
                await self.handle(message)
        except ConnectionClosed:
            pass
        finally:
            for task in self.speakers.values():
                task.cancel()

    async def handle(self, message: dict[str, Any]) -> None:
        context = message.get("context_id", "default")
        if message.get("close_context"):
            await self.close_context(context)
            return
        if context not in self.buffers:
            if len(self.buffers) >= MAX_CONTEXTS:
                await self.ws.send(
                    json.dumps(
                        {
                            "message": "Maximum simultaneous contexts per WebSocket "
                            "connection exceeded (5).",
                            "error": "max_active_conversations",
                            "code": 1008,
                        }
                    )
                )
                await self.ws.close(1008, "max_active_conversations")
                return
            self.buffers[context] = ""
            self.queues[context] = asyncio.Queue()
            self.speakers[context] = asyncio.create_task(self.speak(context))
        self.buffers[context] += message.get("text", "")
        if message.get("flush") or len(self.buffers[context]) >= SCHEDULE_FIRST:
            text, self.buffers[context] = self.buffers[context], ""
            if text.strip():
                self.queues[context].put_nowait(text)

    async def close_context(self, context: str) -> None:
        speaker = self.speakers.pop(context, None)
        self.buffers.pop(context, None)
        self.queues.pop(context, None)
        if speaker is not None:
            speaker.cancel()
        if context in self.busy:
            self.busy.discard(context)
            for _ in range(self.fake.late_chunks):  # audio already on its way
                self.fake.late_sent += 1
                await self.chunk(context, "late")
        await self.send({"isFinal": True, "contextId": context})

    async def speak(self, context: str) -> None:
        queue = self.queues[context]
        first = True
        while True:
            text = await queue.get()
            self.busy.add(context)
            for word in text.split():
                await asyncio.sleep(self.fake.first_byte_s if first else self.fake.chunk_s)
                first = False
                fake = self.fake
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
                await self.chunk(context, word)
                fake.spoken.append(word)
            if queue.empty():
                self.busy.discard(context)

    async def chunk(self, context: str, word: str) -> None:
        count = round(self.fake.word_s * self.rate)
        values = (np.arange(self.fake.next_sample, self.fake.next_sample + count) % 30000) + 1
        self.fake.next_sample += count
        pcm = values.astype("<i2").tobytes()
        audio = pcm16_to_ulaw(pcm) if self.format.startswith("ulaw") else pcm
        chars = list(word + " ")
        step = self.fake.word_s * 1000 / len(chars)
        alignment = {
            "chars": chars,
            "charStartTimesMs": [round(i * step) for i in range(len(chars))],
            "charDurationsMs": [round(step)] * len(chars),
        }
        self.fake.chunks_sent += 1
        await self.send(
            {
                "audio": base64.b64encode(audio).decode(),
                "contextId": context,
                "isFinal": None,
                "alignment": alignment,
                "normalizedAlignment": alignment,
            }
        )

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))


def _limit(count: int | None) -> float:
    return float("inf") if count is None else count
