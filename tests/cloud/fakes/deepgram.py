"""A fake Deepgram live transcription server, faithful to the documented protocol.

It checks `Authorization: Token KEY` at the handshake (401 with Deepgram's error body
otherwise) and hears linear16 audio by loudness: a voiced stretch is an utterance, whose
text is the next of the script. While it lasts, interim Results reveal its words
(`SpeechStarted` first); `endpointing` ms of silence after it give a final with
speech_final, and `utterance_end_ms` an UtteranceEnd. Finalize flushes: a final with
from_finalize when a noticeable amount of audio (100 ms) is unfinalized, nothing otherwise.
KeepAlive keeps an idle socket open; with no message for `idle_timeout` it closes 1011
NET-0001. CloseStream flushes, sends Metadata and closes 1000. Times are audio seconds on
the connection, as Deepgram's are. Faults: drop the connection (no close frame), stall
(read on, answer nothing), go deaf (stop reading the socket, so the client's sends back up),
or fail as the real service does (an `Error` message, then close
1011) once a connection has received so much audio.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

KEY = "dg-test-0123456789abcdef"
NOTICEABLE_S = 0.1


@dataclass
class FakeDeepgram:
    key: str = KEY
    script: deque[str | None] = field(default_factory=deque)
    idle_timeout: float = 10.0
    voiced_dbfs: float = -40.0
    partial_every: float = 0.25
    words_per_second: float = 3.0
    answer_finalize: bool = True
    drop_at: dict[int, float] = field(default_factory=dict)  # connection number -> audio s
    stall_at: dict[int, float] = field(default_factory=dict)
    deaf_at: dict[int, float] = field(default_factory=dict)
    error_at: dict[int, float] = field(default_factory=dict)
    error_description: str = "Internal server error while transcribing the audio."
    # what happened
    connections: int = 0
    queries: list[dict[str, list[str]]] = field(default_factory=list)
    audio_seconds: list[float] = field(default_factory=list)  # per connection
    controls: list[str] = field(default_factory=list)  # control message types, in order
    sent: list[dict[str, Any]] = field(default_factory=list)

    def add(self, *utterances: str | None) -> None:
        self.script.extend(utterances)

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Authorization") != f"Token {self.key}":
            body = {
                "err_code": "INVALID_AUTH",
                "err_msg": "Invalid credentials.",
                "request_id": "fake",
            }
            response = connection.respond(HTTPStatus.UNAUTHORIZED, json.dumps(body))
            response.headers["dg-error"] = "Invalid credentials."
            return response
        return None

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        number = self.connections
        query = parse_qs(urlsplit(ws.request.path if ws.request else "").query)
        self.queries.append(query)
        self.audio_seconds.append(0.0)
        await _Listener(self, ws, number, query).run()


class _Listener:
    def __init__(
        self, fake: FakeDeepgram, ws: ServerConnection, number: int, query: dict[str, list[str]]
    ) -> None:
        self.fake, self.ws, self.number = fake, ws, number
        self.rate = int(query.get("sample_rate", ["16000"])[0])
        endpointing = query.get("endpointing", ["10"])[0]
        self.endpointing = None if endpointing == "false" else int(endpointing) / 1000
        utterance_end = query.get("utterance_end_ms", [None])[0]
        self.utterance_end = None if utterance_end is None else int(utterance_end) / 1000
        self.t = 0.0  # audio seconds received
        self.finalized = 0.0
        self.in_speech = False
        self.voiced = 0.0  # voiced seconds of the current utterance
        self.last_voiced = 0.0
        self.last_partial = 0.0
        self.utterance_end_due = False
        self.stalled = False
        self.deaf = False

    async def run(self) -> None:
        ws = self.ws
        try:
            while True:
                try:
                    message = await asyncio.wait_for(ws.recv(), self.fake.idle_timeout)
                except TimeoutError:
                    await ws.close(1011, "NET-0001: no audio or message within the timeout")
                    return
                if self.stalled:
                    continue
                if self.deaf:  # read no more: the socket's buffers fill, the client's backs up
                    ws.close_timeout = 0.2  # unread, its closing handshake can only time out
                    await ws.wait_closed()
                    return
                if isinstance(message, bytes):
                    await self.audio(message)
                elif await self.control(json.loads(message).get("type")):
                    return
        except ConnectionClosed:
            return

    async def control(self, kind: str) -> bool:
        self.fake.controls.append(kind)
        if kind == "Finalize":
            if self.fake.answer_finalize and self.t - self.finalized >= NOTICEABLE_S:
                await self.final(from_finalize=True)
        elif kind == "CloseStream":
            if self.in_speech or self.t - self.finalized >= NOTICEABLE_S:
                await self.final()
            await self.send(
                {"type": "Metadata", "request_id": "fake", "duration": self.t, "channels": 1}
            )
            await self.ws.close(1000)
            return True
        return False

    async def audio(self, pcm: bytes) -> None:
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768
        duration = len(samples) / self.rate
        level = float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
        voiced = level > 0 and 20 * np.log10(level) > self.fake.voiced_dbfs
        start, self.t = self.t, self.t + duration
        self.fake.audio_seconds[-1] = self.t
        limit = self.fake.drop_at.get(self.number)
        if limit is not None and self.t >= limit:
            self.ws.transport.abort()
            return
        failure = self.fake.error_at.get(self.number)
        if failure is not None and self.t >= failure:
            await self.send(
                {
                    "type": "Error",
                    "description": self.fake.error_description,
                    "message": "The server encountered an error. See the description.",
                    "variant": "internal",
                }
            )
            await self.ws.close(1011, "Internal server error")
            return
        deaf = self.fake.deaf_at.get(self.number)
        if deaf is not None and self.t >= deaf:
            self.deaf = True
            return
        stall = self.fake.stall_at.get(self.number)
        if stall is not None and self.t >= stall:
            self.stalled = True
            return
        if voiced:
            if not self.in_speech:
                self.in_speech, self.voiced, self.last_partial = True, 0.0, 0.0
                self.utterance_end_due = False
                await self.send({"type": "SpeechStarted", "channel": [0], "timestamp": start})
            self.voiced += duration
            self.last_voiced = self.t
            if self.voiced - self.last_partial >= self.fake.partial_every:
                self.last_partial = self.voiced
                words = self.text().split()[: int(self.voiced * self.fake.words_per_second)]
                if words:
                    await self.results(" ".join(words), is_final=False)
            return
        silence = self.t - self.last_voiced
        if self.in_speech and self.endpointing is not None and silence >= self.endpointing:
            await self.final(speech_final=True)
        if self.utterance_end_due and self.utterance_end and silence >= self.utterance_end:
            self.utterance_end_due = False
            await self.send(
                {"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": self.last_voiced}
            )

    def text(self) -> str:
        return (self.fake.script[0] or "") if self.fake.script else ""

    async def final(self, *, speech_final: bool = False, from_finalize: bool = False) -> None:
        text = ""
        if self.in_speech:
            text = self.text()
            if self.fake.script:
                self.fake.script.popleft()
            self.in_speech = False
            self.utterance_end_due = True
        await self.results(
            text, is_final=True, speech_final=speech_final, from_finalize=from_finalize
        )
        self.finalized = self.t

    async def results(
        self, text: str, *, is_final: bool, speech_final: bool = False, from_finalize: bool = False
    ) -> None:
        words = [
            {
                "word": w.lower().strip(".,?!"),
                "start": self.finalized,
                "end": self.t,
                "confidence": 0.99,
                "punctuated_word": w,
            }
            for w in text.split()
        ]
        await self.send(
            {
                "type": "Results",
                "channel_index": [0, 1],
                "duration": self.t - self.finalized,
                "start": self.finalized,
                "is_final": is_final,
                "speech_final": speech_final,
                "from_finalize": from_finalize,
                "channel": {
                    "alternatives": [{"transcript": text, "confidence": 0.99, "words": words}]
                },
                "metadata": {"request_id": "fake"},
            }
        )

    async def send(self, message: dict[str, Any]) -> None:
        self.fake.sent.append(message)
        await self.ws.send(json.dumps(message))
