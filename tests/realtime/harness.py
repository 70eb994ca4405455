"""A parley server on loopback in the test's loop, and the official `openai` client against it.

Every event the server sends is checked against the official SDK's own pydantic types for
the dialect in use (GA `openai.types.realtime`, beta `openai.types.beta.realtime`): a field
missing or of the wrong type fails the test at the event that carries it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import typing
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydantic
from fastapi import FastAPI
from openai import AsyncOpenAI
from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from openai.types.realtime import RealtimeServerEvent as GAServerEvent
from websockets.exceptions import ConnectionClosed

from parley.audio.frames import AudioFrame
from parley.audio.resample import resample
from parley.audio.wavfile import read_wav
from parley.server import create_app
from parley.server.state import ServerState
from parley.session import Session
from parley.session.config import Providers
from parley.settings import Settings
from parley.testing.fakes import FakeLLM, FakeSTT, FakeTTS
from parley.testing.fakes.llm import ReplyScript
from parley.testing.fakes.vad import EnergyVAD
from tests.serving import serving

DATA = Path(__file__).parent.parent / "data"
API_KEY = "sk-not-a-real-key"


def speech(name: str, rate: int = 24000) -> AudioFrame:
    """A clip from tests/data (texts in tests/data/README.md) at `rate`."""
    return resample(read_wav(DATA / f"{name}.wav"), rate)


def b64(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode("ascii")


def chunks(audio: AudioFrame, seconds: float = 0.1) -> list[str]:
    """Base64 appends of `seconds` each, as a client streams a microphone or a file."""
    step = round(seconds * audio.sample_rate) * 2
    return [b64(audio.pcm[i : i + step]) for i in range(0, len(audio.pcm), step)]


def fake_providers(
    heard: Sequence[str | None], replies: ReplyScript, *, tts_rate: int = 16000
) -> Providers:
    """Loudness VAD (works on real speech), scripted STT and LLM, a TTS at `tts_rate` (the
    pipeline resamples it to the client's format) with 250 ms per word."""
    return Providers(
        vad=EnergyVAD(),
        stt=FakeSTT(heard, final_latency=0.1, partial_interval=None),
        llm=FakeLLM(replies, first_token_latency=0.1, token_latency=0.01),
        tts=FakeTTS(sample_rate=tts_rate, word_duration=0.25, first_byte_latency=0.05),
    )


@dataclass
class Site:
    app: FastAPI
    host: str

    @property
    def base_url(self) -> str:
        return f"http://{self.host}/v1"

    @property
    def state(self) -> ServerState:
        state: ServerState = self.app.state.parley
        return state

    def session(self, session_id: str) -> Session:
        session = self.state.sessions.get(session_id)
        assert session is not None, f"no running session {session_id}"
        return session

    def client(self, key: str = API_KEY) -> AsyncOpenAI:
        """GA: only the base URL changes. (The SDK's beta client always uses wss:// unless
        told a websocket base URL, so beta tests pass that too.)"""
        return AsyncOpenAI(
            api_key=key, base_url=self.base_url, websocket_base_url=f"ws://{self.host}/v1"
        )


@contextlib.asynccontextmanager
async def realtime_server(providers: Providers, **settings: Any) -> AsyncIterator[Site]:
    config = {"vad": "energy", "stt": "fake", "llm": "fake", "tts": "fake", **settings}
    app = create_app(Settings.model_validate(config), providers=providers)
    async with serving(app) as host:
        yield Site(app, host)


# --- what the client receives --------------------------------------------------------------


def _by_type(union: Any) -> dict[str, type[pydantic.BaseModel]]:
    members = typing.get_args(typing.get_args(union)[0])
    return {typing.get_args(m.model_fields["type"].annotation)[0]: m for m in members}


GA_TYPES = _by_type(GAServerEvent)
BETA_TYPES = _by_type(BetaServerEvent)


class ShapeError(AssertionError):
    pass


def check_shape(event: dict[str, Any], *, beta: bool) -> None:
    """Validate a server event with the SDK's own model for its type (strictly)."""
    types = BETA_TYPES if beta else GA_TYPES
    model = types.get(event.get("type", ""))
    if model is None:
        raise ShapeError(f"the {'beta' if beta else 'GA'} SDK has no event {event.get('type')!r}")
    try:
        model.model_validate(event, strict=False)
    except pydantic.ValidationError as exc:
        raise ShapeError(f"{event['type']} does not match the SDK's type: {exc}") from exc


@dataclass
class Received:
    """Every event a client connection received, with its arrival time, shape-checked."""

    connection: Any
    beta: bool = False
    log: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    closed: BaseException | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def pump(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                event = json.loads(await self.connection.recv_bytes())
                check_shape(event, beta=self.beta)
                self.log.append((loop.time(), event))
                self._changed.set()
        except ConnectionClosed as exc:
            self.closed = exc
            self._changed.set()

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for _, e in self.log if e["type"] == kind]

    def types(self) -> list[str]:
        return [e["type"] for _, e in self.log]

    def errors(self) -> list[dict[str, Any]]:
        return [e["error"] for e in self.of("error")]

    async def next(
        self, kind: str, where: Callable[[dict[str, Any]], bool] = lambda e: True,
        *, after: int = 0, limit: float = 10.0,
    ) -> dict[str, Any]:  # fmt: skip
        """The first event of `kind` (matching `where`) at index `after` or later."""
        async with asyncio.timeout(limit):
            while True:
                for _, event in self.log[after:]:
                    if event["type"] == kind and where(event):
                        return event
                if self.closed is not None:
                    raise AssertionError(f"closed ({self.closed}) before {kind}")
                self._changed.clear()
                await self._changed.wait()

    def mark(self) -> int:
        return len(self.log)


@contextlib.asynccontextmanager
async def receiving(connection: Any, *, beta: bool = False) -> AsyncIterator[Received]:
    received = Received(connection, beta)
    task = asyncio.create_task(received.pump())
    try:
        yield received
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def ask_in_text(connection: Any, text: str = "are you there") -> None:
    """Add a user text message to the conversation (no response asked for yet)."""
    await connection.conversation.item.create(
        item={"type": "message", "role": "user",
              "content": [{"type": "input_text", "text": text}]}
    )  # fmt: skip


async def a_response_still_works(connection: Any, got: Received) -> None:
    """After bad input the session still answers a text turn (fake LLM reply "Still here.")."""
    await ask_in_text(connection)
    await connection.response.create()
    done = await got.next("response.done")
    assert done["response"]["output"][0]["content"][0]["transcript"] == "Still here."


def audio_of(deltas: list[dict[str, Any]]) -> bytes:
    return b"".join(base64.b64decode(d["delta"]) for d in deltas)


def samples(pcm: bytes) -> np.ndarray[Any, np.dtype[np.int16]]:
    return np.frombuffer(pcm, dtype="<i2")
