"""A parley server on loopback in the test's own loop, and a websocket client that speaks
the browser protocol (docs/protocol.md) like a page would, keeping every message it gets."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from parley.audio.frames import AudioFrame
from parley.server import create_app
from parley.server.state import ServerState
from parley.session.config import Providers
from parley.settings import Settings
from parley.testing.fakes import FakeLLM, FakeSTT, FakeTTS
from parley.testing.fakes.vad import EnergyVAD
from parley.transports.browser.audio import wav_bytes
from tests.serving import serving


def fake_providers(
    heard: Sequence[str | None] = (), replies: Sequence[str] = (), *, stt_latency: float = 0.05
) -> Providers:
    """A loudness VAD, scripted STT and LLM, and a TTS whose samples count up (so gaps and
    repeats show), all at 16 kHz like the page's output in these tests."""
    return Providers(
        vad=EnergyVAD(),
        stt=FakeSTT(heard, final_latency=stt_latency, partial_interval=None),
        llm=FakeLLM(replies, first_token_latency=0.05, token_latency=0.005),
        tts=FakeTTS(sample_rate=16000, word_duration=0.25, first_byte_latency=0.02),
    )


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"vad": "energy", "stt": "fake", "llm": "fake", "tts": "fake"}
    base["browser"] = {"output_sample_rate": 16000, **overrides.pop("browser", {})}
    return Settings.model_validate({**base, **overrides})


@dataclass
class Site:
    app: FastAPI
    host: str

    @property
    def state(self) -> ServerState:
        state: ServerState = self.app.state.parley
        return state

    @property
    def url(self) -> str:
        return f"ws://{self.host}/ws"

    def client(self, **options: Any) -> contextlib.AbstractAsyncContextManager[Client]:
        return Client.open(self.url, **options)

    async def wait_for_no_sessions(self, limit: float = 5.0) -> float:
        """Seconds until the server runs no session (fails the test past `limit`)."""
        started = time.monotonic()
        while len(self.state.sessions):
            assert time.monotonic() - started < limit, "a session is still running"
            await asyncio.sleep(0.01)
        return time.monotonic() - started


@contextlib.asynccontextmanager
async def parley_site(providers: Providers, **overrides: Any) -> AsyncIterator[Site]:
    app = create_app(settings(**overrides), providers=providers)
    async with serving(app) as host:
        yield Site(app, host)


@dataclass
class Received:
    at: float  # time.monotonic() on arrival
    message: dict[str, Any]

    @property
    def event(self) -> str:
        return str(self.message.get("event"))


@dataclass
class Client:
    """A page without a page: sends protocol messages, keeps what comes back."""

    ws: ClientConnection
    received: list[Received] = field(default_factory=list)
    _taken: set[int] = field(default_factory=set)  # messages handed out by `expect`

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, url: str, **options: Any) -> AsyncIterator[Client]:
        async with connect(url, open_timeout=5, max_size=2**24, **options) as ws:
            yield cls(ws)

    async def send(self, message: dict[str, Any] | str | bytes) -> float:
        """Send, and return when (time.monotonic()) it went."""
        payload = json.dumps(message) if isinstance(message, dict) else message
        await self.ws.send(payload)
        return time.monotonic()

    async def next(self, limit: float = 5.0) -> Received | None:
        """The next message; None once the server closed the connection."""
        try:
            raw = await asyncio.wait_for(self.ws.recv(), limit)
        except ConnectionClosed:
            return None
        assert isinstance(raw, str), "the server sends text messages only"
        item = Received(time.monotonic(), json.loads(raw))
        self.received.append(item)
        return item

    async def expect(self, event: str, limit: float = 5.0) -> Received:
        """The first `event` not handed out yet, reading on as needed."""
        deadline = time.monotonic() + limit
        while True:
            for index, item in enumerate(self.received):
                if item.event == event and index not in self._taken:
                    self._taken.add(index)
                    return item
            left = deadline - time.monotonic()
            assert left > 0, f"no {event!r} within {limit} s; got {self.events()}"
            if await self.next(left) is None:
                raise AssertionError(f"connection closed before {event!r}; got {self.events()}")

    def events(self, *names: str) -> list[str]:
        return [r.event for r in self.received if not names or r.event in names]

    def of(self, event: str) -> list[dict[str, Any]]:
        return [r.message for r in self.received if r.event == event]

    async def say(self, audio: bytes) -> None:
        """One utterance through the page's VAD: speech_start, then speech_end with it."""
        await self.send({"type": "speech_start"})
        await self.send({"type": "speech_end", "audio": base64.b64encode(audio).decode()})


def tone(seconds: float, rate: int = 16000, level: float = 0.3) -> AudioFrame:
    """A loud 220 Hz tone: speech as far as the loudness VAD is concerned."""
    t = np.arange(round(seconds * rate)) / rate
    return AudioFrame.from_float(level * np.sin(2 * np.pi * 220 * t), rate)


def wav(seconds: float = 0.8) -> bytes:
    return wav_bytes(tone(seconds))


def opus(seconds: float, container: str = "webm") -> bytes:
    """What MediaRecorder makes: Opus in WebM (Chromium) or Ogg (Firefox), at 48 kHz."""
    samples = tone(seconds, 48000).as_array().reshape(1, -1)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream("libopus", rate=48000, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 48000
        for packet in stream.encode(frame):
            output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return buffer.getvalue()


def pcm_of(message: dict[str, Any]) -> np.ndarray:
    """The samples of a `play_audio` message (its WAV's data after the 44-byte header)."""
    data = base64.b64decode(message["audio"])
    assert data[:4] == b"RIFF" and data[36:40] == b"data"
    return np.frombuffer(data[44:], dtype="<i2")
