"""`parley check`: does each configured hosted provider work, and how fast?

For each cloud provider named in the settings it connects and makes the smallest real call
(Deepgram: a quarter second of silence and CloseStream; the chat LLM: a one-word reply;
ElevenLabs: one word of speech; OpenAI Realtime: a session and its configuration; an
OpenAI-compatible transcription server: half a second of silence; a speech server: one
word), then
prints a table: what works with its latencies, what fails and why (bad key, no route,
timeout, or the server's error). Each probe goes through the adapter's own connection code,
so it meets the server as a session would (a bad key the server reports after opening the
socket, as OpenAI Realtime does, is still "bad key"). Keys never appear: errors are redacted
at the source, and anything unforeseen is reported as an error, never a traceback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from rich.table import Table

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import ProviderError
from parley.providers.cloud.common import (
    CredentialsError,
    StalledError,
    UnreachableError,
    redact,
)
from parley.providers.cloud.deepgram import DeepgramSTT
from parley.providers.cloud.elevenlabs import ElevenLabsTTS
from parley.providers.cloud.openai_chat import OpenAIChatLLM
from parley.providers.cloud.openai_speech import OpenAISpeechTTS
from parley.providers.cloud.openai_transcribe import OpenAITranscribeSTT
from parley.providers.cloud.realtime_connection import RealtimeConnection
from parley.providers.cloud.realtime_link import RealtimeLink
from parley.settings import Settings
from parley.types import ChatMessage

CLOUD = {
    "deepgram",
    "openai",
    "elevenlabs",
    "openai-realtime",
    "openai-transcribe",
    "openai-speech",
}


@dataclass
class CheckResult:
    provider: str
    kinds: list[str]
    ok: bool = False
    latencies: dict[str, float] = field(default_factory=dict)  # name -> milliseconds
    problem: str | None = None  # "bad key", "no route", "timeout", "error"
    detail: str = ""


Probe = Callable[[Settings, dict[str, float]], Awaitable[str]]


async def run_checks(settings: Settings, limit: float = 15.0) -> list[CheckResult]:
    """Check every cloud provider the settings choose (each once, whatever its kinds)."""
    chosen: dict[str, list[str]] = {}
    for kind in ("vad", "stt", "llm", "tts"):
        name = getattr(settings, kind)
        if name in CLOUD:
            chosen.setdefault(name, []).append(kind)
    results = []
    for name, kinds in chosen.items():
        result = CheckResult(name, kinds)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(limit):
                result.detail = await PROBES[name](settings, result.latencies)
            result.ok = True
        except TimeoutError:
            result.problem, result.detail = "timeout", f"no answer within {limit:g} s"
        except CredentialsError as exc:
            result.problem, result.detail = "bad key", str(exc)
        except UnreachableError as exc:
            result.problem, result.detail = "no route", str(exc)
        except StalledError as exc:
            result.problem, result.detail = "timeout", str(exc)
        except ProviderError as exc:
            result.problem, result.detail = "error", str(exc)
        except Exception as exc:  # a fault the adapters did not foresee: reported, not raised
            detail = redact(f"{type(exc).__name__}: {exc}", *_keys(settings))
            result.problem, result.detail = "error", detail
        result.latencies.setdefault("total", _ms(started))
        results.append(result)
    return results


def render(results: list[CheckResult]) -> Table:
    table = Table("provider", "used as", "result", "latency", "detail", title="parley check")
    for r in results:
        status = "[green]ok[/green]" if r.ok else f"[red]{r.problem}[/red]"
        latency = ", ".join(f"{k} {v:.0f} ms" for k, v in r.latencies.items())
        table.add_row(r.provider, ", ".join(r.kinds), status, latency, r.detail)
    return table


def _keys(settings: Settings) -> list[SecretStr | None]:
    sections = (
        settings.deepgram,
        settings.openai,
        settings.elevenlabs,
        settings.openai_realtime,
        settings.openai_transcribe,
        settings.openai_speech,
    )
    return [section.api_key for section in sections]


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


async def _drain(stream: AsyncIterable[Any]) -> None:
    async for _ in stream:
        pass


async def _until(ready: Callable[[], bool], reading: asyncio.Task[None], what: str) -> None:
    """Wait for `ready`, failing with the stream's own error if it ends first."""
    while not ready():
        if reading.done():
            reading.result()  # raises the stream's error
            raise ProviderError(f"the server closed the connection before {what}")
        await asyncio.sleep(0.005)


async def _deepgram(settings: Settings, latencies: dict[str, float]) -> str:
    """The adapter's own stream (no reconnection): 0.25 s of silence, then CloseStream."""
    stt = DeepgramSTT(settings.deepgram.model_copy(update={"reconnect_attempts": 0}))
    stream = stt.stream(TurnTakingPolicy())
    started = time.perf_counter()
    stream.push_audio(AudioFrame.silence(0.25, stt.sample_rate))
    reading = asyncio.create_task(_drain(stream))
    try:
        await _until(lambda: stream.connections > 0, reading, "it was used")
        latencies["connect"] = _ms(started)
        started = time.perf_counter()
    finally:
        await stream.aclose()  # sends CloseStream and waits for the close
    latencies["flush"] = _ms(started)
    await reading  # the stream's error, if the server failed it
    return "streamed 0.25 s of audio; CloseStream answered"


async def _openai(settings: Settings, latencies: dict[str, float]) -> str:
    llm = OpenAIChatLLM(settings.openai.model_copy(update={"retries": 0}))
    messages = [ChatMessage("system", "Reply with one word."), ChatMessage("user", "Say OK.")]
    started = time.perf_counter()
    reply = ""
    async for delta in llm.stream(messages):
        if not reply:
            latencies["first token"] = _ms(started)
        reply += delta
    return f"model {settings.openai.model} replied {reply.strip()[:40]!r}"


async def _elevenlabs(settings: Settings, latencies: dict[str, float]) -> str:
    stream = ElevenLabsTTS(settings.elevenlabs).stream(16000)
    started = time.perf_counter()
    audio = 0.0
    try:
        stream.push_text("Hello.")
        stream.end_input()
        async for chunk in stream:
            if not audio and chunk.audio.samples:
                latencies["first audio"] = _ms(started)
            audio += chunk.audio.duration
    finally:
        await stream.aclose()
    return f"voice {settings.elevenlabs.voice_id} spoke {audio:.2f} s"


async def _realtime(settings: Settings, latencies: dict[str, float]) -> str:
    """The adapter's own connection: open it and wait for session.updated."""
    s = settings.openai_realtime
    connection = RealtimeConnection(RealtimeLink(s), TurnTakingPolicy())
    started = time.perf_counter()
    reading = asyncio.create_task(_drain(connection))
    try:
        await _until(lambda: connection.configured, reading, "the session was configured")
        latencies["session"] = _ms(started)
    finally:
        await connection.aclose()
        await asyncio.wait({reading}, timeout=1.0)
    return f"model {s.model} accepted the session"


async def _transcribe(settings: Settings, latencies: dict[str, float]) -> str:
    """One request, as the adapter makes it: half a second of silence (no retries)."""
    s = settings.openai_transcribe
    stt = OpenAITranscribeSTT(s.model_copy(update={"retries": 0}))
    started = time.perf_counter()
    text = await stt.transcribe(AudioFrame.silence(0.5, stt.sample_rate))
    latencies["transcript"] = _ms(started)
    return f"model {s.model} transcribed 0.5 s of silence as {text.strip()[:40]!r}"


async def _speech(settings: Settings, latencies: dict[str, float]) -> str:
    """One word, streamed as the adapter streams it (no retries)."""
    s = settings.openai_speech
    tts = OpenAISpeechTTS(s.model_copy(update={"retries": 0}))
    started = time.perf_counter()
    audio = 0.0
    async for chunk in tts.synthesize("Hello."):
        if not audio and chunk.audio.samples:
            latencies["first audio"] = _ms(started)
        audio += chunk.audio.duration
    if not audio:
        raise ProviderError("the server sent no audio")
    return f"voice {s.voice} spoke {audio:.2f} s"


PROBES: dict[str, Probe] = {
    "deepgram": _deepgram,
    "openai": _openai,
    "elevenlabs": _elevenlabs,
    "openai-realtime": _realtime,
    "openai-transcribe": _transcribe,
    "openai-speech": _speech,
}
