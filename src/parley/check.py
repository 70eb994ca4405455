"""`parley check`: does each configured hosted provider work, and how fast?

For each cloud provider named in the settings it connects and makes the smallest real call
(Deepgram: a quarter second of silence and CloseStream; the chat LLM: a one-word reply;
ElevenLabs: one word of speech; OpenAI Realtime: a session and its configuration), then
prints a table: what works with its latencies, what fails and why (bad key, no route,
timeout, or the server's error). Keys never appear: errors are redacted at the source.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from rich.table import Table

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import ProviderError
from parley.providers.cloud.common import (
    CredentialsError,
    StalledError,
    UnreachableError,
    close_quietly,
    dumps,
    open_websocket,
    quoted,
    require_key,
)
from parley.providers.cloud.deepgram import DeepgramSTT
from parley.providers.cloud.deepgram_wire import CLOSE_STREAM
from parley.providers.cloud.elevenlabs import ElevenLabsTTS
from parley.providers.cloud.openai_chat import OpenAIChatLLM
from parley.providers.cloud.realtime import RealtimeConnection
from parley.providers.cloud.realtime_link import RealtimeLink
from parley.settings import Settings
from parley.types import ChatMessage

CLOUD = {"deepgram", "openai", "elevenlabs", "openai-realtime"}


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


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


async def _deepgram(settings: Settings, latencies: dict[str, float]) -> str:
    s = settings.deepgram
    key = require_key(s.api_key, "deepgram", s.key_variable, "PARLEY_DEEPGRAM__API_KEY")
    started = time.perf_counter()
    headers = {"Authorization": f"Token {key.get_secret_value()}"}
    ws = await open_websocket(DeepgramSTT(s).listen_url(), headers, provider="deepgram",
                              open_timeout=s.connect_timeout_s, secret=key)  # fmt: skip
    latencies["connect"] = _ms(started)
    try:
        started = time.perf_counter()
        await ws.send(AudioFrame.silence(0.25, 16000).pcm)
        await ws.send(CLOSE_STREAM)
        async for _ in ws:  # results and Metadata, then the server closes
            pass
        latencies["flush"] = _ms(started)
    finally:
        await close_quietly(ws)
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
    s = settings.openai_realtime
    setting = "PARLEY_OPENAI_REALTIME__API_KEY"
    key = require_key(s.api_key, "openai-realtime", s.key_variable, setting)
    config = RealtimeConnection(RealtimeLink(s), TurnTakingPolicy()).session_config()
    started = time.perf_counter()
    ws = await open_websocket(f"{s.base_url}?model={s.model}",
                              {"Authorization": f"Bearer {key.get_secret_value()}"},
                              provider="openai-realtime", open_timeout=s.connect_timeout_s,
                              secret=key)  # fmt: skip
    latencies["connect"] = _ms(started)
    try:
        started = time.perf_counter()
        await ws.send(dumps(config))
        async for raw in ws:
            text = raw if isinstance(raw, str) else raw.decode()
            if '"session.updated"' in text:
                latencies["session"] = _ms(started)
                return f"model {s.model} accepted the session"
            if '"type":"error"' in text.replace(" ", ""):
                raise ProviderError(f"openai-realtime: {quoted(text, key)}")
        raise ProviderError("openai-realtime: closed before the session was configured")
    finally:
        await close_quietly(ws)


PROBES: dict[str, Probe] = {
    "deepgram": _deepgram,
    "openai": _openai,
    "elevenlabs": _elevenlabs,
    "openai-realtime": _realtime,
}
