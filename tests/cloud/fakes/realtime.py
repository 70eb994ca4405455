"""A fake OpenAI Realtime server (GA event names), faithful to the documented protocol.

`?model=..` with `Authorization: Bearer KEY` (401 at the handshake otherwise; with
`reject_after_open`, as the real service does, the socket opens, an invalid_api_key error
follows and the server closes with code 3000). A session starts on the server's defaults:
server VAD that answers by itself (create_response). An unknown field in session.update
(`unknown_session_fields`) is refused with an error naming the update's event_id, and the
session stays as it was. It keeps a conversation of items. Input audio (audio/pcm 24 kHz)
is appended to a buffer; with server VAD it detects speech by loudness with the session's
threshold-free settings, sending speech_started with audio_start_ms = onset less
prefix_padding_ms, and speech_stopped with audio_end_ms = end of the voiced audio plus
silence_duration_ms (as OpenAI documents them: the start and end of the audio the model
gets), committing the item and transcribing it (the next text of `transcripts`), and
answering it when create_response is on; without, input_audio_buffer.commit does (an error,
input_audio_buffer_commit_empty, under 100 ms). response.create speaks the
next reply word by word: transcript deltas and `word_s` of audio per word (samples count up,
audio/pcm 24 kHz or audio/pcmu), faster than real time, then the done events. response.cancel
stops it (response.done cancelled; response_cancel_not_active when none).
conversation.item.truncate cuts an item's audio (error past its end) and .delete removes it.
Faults: drop the connection or stall after so many audio deltas, drop it at any time
(`drop`), or stop reading the socket after so much input audio (`deaf_after_ms`), so the
client's sends back up.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from parley.audio.codecs import pcm16_to_ulaw

KEY = "sk-realtime-test-0123456789"
RATE = 24000


@dataclass
class Item:
    id: str
    role: str
    text: str = ""
    audio_ms: int = 0


@dataclass
class FakeRealtime:
    key: str = KEY
    transcripts: deque[str | None] = field(default_factory=deque)
    replies: deque[str] = field(default_factory=deque)
    word_s: float = 0.25
    first_delay: float = 0.05
    word_delay: float = 0.02
    transcribe_delay: float = 0.1
    voiced_dbfs: float = -40.0
    drop_after_deltas: int | None = None
    stall_after_deltas: int | None = None
    reject_after_open: bool = False
    deaf_after_ms: float | None = None
    unknown_session_fields: tuple[str, ...] = ()  # session.update fields it refuses
    # what happened
    connections: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)  # the config after each update
    conversations: list[list[Item]] = field(default_factory=list)  # at each response.create
    truncated: list[tuple[str, int]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    cancelled: int = 0
    deltas_sent: int = 0
    next_sample: int = 0
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    sockets: list[ServerConnection] = field(default_factory=list)

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        authorized = request.headers.get("Authorization") == f"Bearer {self.key}"
        if not authorized and not self.reject_after_open:
            body = {
                "error": {
                    "message": "Incorrect API key provided.",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            }
            return connection.respond(HTTPStatus.UNAUTHORIZED, json.dumps(body))
        return None

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        self.sockets.append(ws)
        presented = ws.request.headers.get("Authorization", "") if ws.request else ""
        if presented != f"Bearer {self.key}":
            key = presented.removeprefix("Bearer ")
            error = {
                "type": "invalid_request_error",
                "code": "invalid_api_key",
                "message": f"Incorrect API key provided: {key[:3]}***{key[-4:]}.",
                "param": None,
                "event_id": None,
            }
            await ws.send(json.dumps({"type": "error", "event_id": "event_1", "error": error}))
            await ws.close(3000, "invalid_api_key")
            return
        await _Session(self, ws).run()

    def drop(self) -> None:
        """Drop the latest connection, as a network fault would (no close handshake)."""
        self.sockets[-1].transport.abort()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self.ids)}"


def _merge(into: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


class _Session:
    def __init__(self, fake: FakeRealtime, ws: ServerConnection) -> None:
        self.fake, self.ws = fake, ws
        self.config: dict[str, Any] = {
            "type": "realtime",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": RATE},
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.5,
                        "prefix_padding_ms": 300,
                        "silence_duration_ms": 500,
                        "create_response": True,
                        "interrupt_response": True,
                    },
                },
                "output": {"format": {"type": "audio/pcm", "rate": RATE}, "voice": "alloy"},
            },
        }
        self.items: list[Item] = []
        self.buffer = bytearray()
        self.total_ms = 0.0  # audio appended on this connection
        self.speaking = False
        self.speech_start_ms = 0.0
        self.last_voiced_ms = 0.0
        self.response: asyncio.Task[None] | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        await self.send({"type": "session.created", "session": self.config})
        try:
            async for raw in self.ws:
                event = json.loads(raw)
                self.fake.received.append(event)
                await self.handle(event)
                deaf = self.fake.deaf_after_ms
                if deaf is not None and self.total_ms >= deaf:
                    self.ws.close_timeout = 0.2  # unread, its closing handshake can only time out
                    await self.ws.wait_closed()  # read no more: the client's sends back up
                    return
        except ConnectionClosed:
            pass
        finally:
            for task in [*self.tasks, *([self.response] if self.response else [])]:
                task.cancel()

    async def error(
        self, code: str, message: str, event: dict[str, Any], param: str | None = None
    ) -> None:
        await self.send(
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": code,
                    "message": message,
                    "param": param,
                    "event_id": event.get("event_id"),
                },
            }
        )

    async def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "session.update":
            refused = [f for f in self.fake.unknown_session_fields if f in event.get("session", {})]
            if refused:
                where = f"session.{refused[0]}"
                await self.error(
                    "unknown_parameter", f"Unknown parameter: '{where}'.", event, where
                )
                return
            _merge(self.config, event.get("session", {}))
            self.fake.sessions.append(json.loads(json.dumps(self.config)))
            await self.send({"type": "session.updated", "session": self.config})
        elif kind == "input_audio_buffer.append":
            await self.append(base64.b64decode(event["audio"]))
        elif kind == "input_audio_buffer.commit":
            if len(self.buffer) < RATE // 10 * 2:
                await self.error("input_audio_buffer_commit_empty", "buffer too small", event)
            else:
                await self.commit()
        elif kind == "input_audio_buffer.clear":
            self.buffer.clear()
            await self.send({"type": "input_audio_buffer.cleared"})
        elif kind == "conversation.item.create":
            item = event["item"]
            text = " ".join(c.get("text", "") for c in item.get("content", []))
            self.items.append(Item(self.fake.new_id("item"), item["role"], text))
            await self.send({"type": "conversation.item.added", "item": item})
        elif kind == "conversation.item.delete":
            await self.delete(event)
        elif kind == "conversation.item.truncate":
            await self.truncate(event)
        elif kind == "response.create":
            if self.response is not None and not self.response.done():
                await self.error("conversation_already_has_active_response", "active", event)
            else:
                self.fake.conversations.append(list(self.items))
                self.response = asyncio.create_task(self.respond())
        elif kind == "response.cancel":
            if self.response is None or self.response.done():
                await self.error("response_cancel_not_active", "no active response", event)
            else:
                self.response.cancel()
        else:
            await self.error("unknown_event", f"unknown event type {kind}", event)

    async def append(self, pcm: bytes) -> None:
        self.buffer += pcm
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768
        start_ms = self.total_ms
        self.total_ms += len(samples) * 1000 / RATE
        detection = self.config["audio"]["input"].get("turn_detection")
        if not detection:
            return
        level = float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0
        voiced = level > 0 and 20 * np.log10(level) > self.fake.voiced_dbfs
        if voiced:
            self.last_voiced_ms = self.total_ms
            if not self.speaking:
                self.speaking = True
                self.speech_start_ms = max(0.0, start_ms - detection.get("prefix_padding_ms", 300))
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": int(self.speech_start_ms),
                        "item_id": "pending",
                    }
                )
        elif self.speaking and self.total_ms - self.last_voiced_ms >= detection.get(
            "silence_duration_ms", 500
        ):
            self.speaking = False
            silence = detection.get("silence_duration_ms", 500)
            await self.send(
                {
                    "type": "input_audio_buffer.speech_stopped",
                    "audio_end_ms": int(self.last_voiced_ms + silence),
                    "item_id": "pending",
                }
            )
            await self.commit()
            if detection.get("create_response", True) and (
                self.response is None or self.response.done()
            ):
                self.fake.conversations.append(list(self.items))
                self.response = asyncio.create_task(self.respond())

    async def commit(self) -> None:
        item = Item(self.fake.new_id("item"), "user")
        previous = self.items[-1].id if self.items else None
        self.items.append(item)
        self.buffer.clear()
        await self.send(
            {
                "type": "input_audio_buffer.committed",
                "item_id": item.id,
                "previous_item_id": previous,
            }
        )
        task = asyncio.create_task(self.transcribe(item))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def transcribe(self, item: Item) -> None:
        await asyncio.sleep(self.fake.transcribe_delay)
        text = self.fake.transcripts.popleft() if self.fake.transcripts else ""
        item.text = text or ""
        await self.send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item.id,
                "content_index": 0,
                "transcript": item.text,
            }
        )

    async def delete(self, event: dict[str, Any]) -> None:
        item_id = event["item_id"]
        if not any(i.id == item_id for i in self.items):
            await self.error("item_not_found", f"no item {item_id}", event)
            return
        self.items = [i for i in self.items if i.id != item_id]
        self.fake.deleted.append(item_id)
        await self.send({"type": "conversation.item.deleted", "item_id": item_id})

    async def truncate(self, event: dict[str, Any]) -> None:
        item = next((i for i in self.items if i.id == event["item_id"]), None)
        end = event["audio_end_ms"]
        if item is None or item.role != "assistant" or end > item.audio_ms:
            await self.error("invalid_value", "audio_end_ms is beyond the item's audio", event)
            return
        words = item.text.split()
        item.text = " ".join(words[: int(end / 1000 / self.fake.word_s) + 1])
        item.audio_ms = end
        self.fake.truncated.append((item.id, end))
        await self.send(
            {
                "type": "conversation.item.truncated",
                "item_id": item.id,
                "content_index": 0,
                "audio_end_ms": end,
            }
        )

    async def respond(self) -> None:
        fake = self.fake
        response_id, item_id = fake.new_id("resp"), fake.new_id("item")
        reply = fake.replies.popleft() if fake.replies else "Okay."
        item = Item(item_id, "assistant")
        self.items.append(item)
        ref = {
            "response_id": response_id,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
        }
        await self.send(
            {"type": "response.created", "response": {"id": response_id, "status": "in_progress"}}
        )
        await self.send(
            {
                "type": "response.output_item.added",
                "response_id": response_id,
                "output_index": 0,
                "item": {"id": item_id, "type": "message", "role": "assistant"},
            }
        )
        status = "completed"
        try:
            for index, word in enumerate(reply.split()):
                await asyncio.sleep(fake.first_delay if index == 0 else fake.word_delay)
                if (
                    fake.drop_after_deltas is not None
                    and fake.deltas_sent >= fake.drop_after_deltas
                ):
                    self.ws.transport.abort()
                    return
                if (
                    fake.stall_after_deltas is not None
                    and fake.deltas_sent >= fake.stall_after_deltas
                ):
                    await asyncio.Event().wait()
                await self.send(
                    {"type": "response.output_audio_transcript.delta", **ref, "delta": word + " "}
                )
                await self.send(
                    {"type": "response.output_audio.delta", **ref, "delta": self.audio()}
                )
                fake.deltas_sent += 1
                item.text = f"{item.text} {word}".strip()
                item.audio_ms += round(fake.word_s * 1000)
            await self.send({"type": "response.output_audio.done", **ref})
            await self.send(
                {"type": "response.output_audio_transcript.done", **ref, "transcript": item.text}
            )
        except asyncio.CancelledError:
            fake.cancelled += 1
            status = "cancelled"
        await self.send(
            {
                "type": "response.done",
                "response": {"id": response_id, "status": status, "output": []},
            }
        )

    def audio(self) -> str:
        count = round(self.fake.word_s * RATE)
        values = (np.arange(self.fake.next_sample, self.fake.next_sample + count) % 30000) + 1
        self.fake.next_sample += count
        pcm = values.astype("<i2").tobytes()
        if self.config["audio"]["output"]["format"]["type"] == "audio/pcmu":
            pcm = pcm16_to_ulaw(_to_8k(values))
        return base64.b64encode(pcm).decode()

    async def send(self, event: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionClosed):  # the client went: nothing more to tell
            await self.ws.send(json.dumps(event))


def _to_8k(values: np.ndarray[Any, Any]) -> bytes:
    """A third of the samples: 8 kHz audio of the same length (the fake does not filter)."""
    return values[::3].astype("<i2").tobytes()


def _limit(count: int | None) -> float:
    return float("inf") if count is None else count
