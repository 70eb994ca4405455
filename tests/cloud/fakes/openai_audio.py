"""Fake OpenAI-compatible speech servers: `POST /v1/audio/transcriptions` and `/v1/audio/speech`.

They answer as OpenAI's API does, in the shapes of the official SDK's types (`openai.types.
audio`), which speaches / faster-whisper-server, vLLM and Kokoro-FastAPI follow too:

- Transcriptions take a multipart form (`file`, `model`, optional `language`,
  `response_format`, `stream`). JSON replies are `{"text": ...}` (verbose_json adds `task`,
  `language`, `duration`, `segments`). With `stream=true` (and `streams` set: OpenAI's
  whisper-1 ignores the flag) the reply is server-sent events, `data:` lines of
  `{"type": "transcript.text.delta", "delta": ...}`, then `{"type": "transcript.text.done",
  "text": ...}`; speaches instead writes one `{"text": ...}` event per segment and ends
  (`style="segments"`).
- Speech takes JSON (`model`, `voice`, `input`, `response_format`, `speed`) and writes the
  audio as the body, piece by piece as it is "synthesized": `pcm` raw 16-bit mono at
  `sample_rate`; `wav` the same behind a header whose sizes are placeholders, as a
  streaming server (Kokoro-FastAPI) writes it.

A wrong key gets 401 with an `invalid_api_key` error body; a malformed request 400. Each
request takes the next scripted plan: an answer with its latencies, optionally stalling or
dropping the connection part-way, or a bare HTTP status. They record the requests, when the
audio was finished, and when each streaming client went away.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
import re
import struct
import wave
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request

from .openai_chat import _error, _json

KEY = "sk-audio-0123456789abcdef"
VOICES = {"alloy", "ash", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "af_heart"}


@dataclass(frozen=True)
class Status:
    code: int
    message: str = "The server had an error while processing your request."


@dataclass(frozen=True)
class Transcript:
    text: str
    delay: float = 0.01  # before the reply (or its first delta)
    delta_delay: float = 0.005
    then: Literal["finish", "stall", "drop"] = "finish"
    after: int = 0  # deltas sent before stalling or dropping (streamed replies)


@dataclass(frozen=True)
class Speech:
    first_audio_delay: float = 0.02
    chunk_delay: float = 0.01  # between pieces of audio
    chunk_bytes: int = 4800  # 0.1 s at 24 kHz; an odd size splits samples across pieces
    seconds_per_word: float = 0.2
    then: Literal["finish", "stall", "drop"] = "finish"
    after: int = 0  # pieces sent before stalling or dropping


@dataclass
class Received:
    """One transcription request as the server read it."""

    fields: dict[str, str]
    filename: str
    content_type: str
    sample_rate: int
    seconds: float


async def _disconnected(receive: Any, gone: asyncio.Event, times: list[float]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    times.append(asyncio.get_running_loop().time())
    gone.set()


async def _refused(scope: dict[str, Any], send: Any, key: str | None) -> bool:
    """Answer a wrong or missing key as OpenAI does; True if refused."""
    if key is None:
        return False
    headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
    if headers.get("authorization") == f"Bearer {key}":
        return False
    presented = headers.get("authorization", "").removeprefix("Bearer ")
    masked = f"{presented[:3]}***{presented[-4:]}" if presented else ""
    message = f"Incorrect API key provided: {masked}."
    await _json(send, 401, _error(message, "invalid_request_error", "invalid_api_key"))
    return True


@dataclass
class FakeTranscriptionServer:
    key: str | None = KEY  # None: no key needed (a self-hosted server)
    streams: bool = True  # False: ignore stream=true and answer JSON (whisper-1)
    # How a stream is written: "openai" (delta and done events) or "segments" (speaches: one
    # `{"text": ...}` event per sentence, no done event, the stream just ends).
    style: Literal["openai", "segments"] = "openai"
    plans: deque[Transcript | Status] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    disconnects: list[float] = field(default_factory=list)
    clients: list[int] = field(default_factory=list)  # the client port of each request

    def script(self, *plans: Transcript | Status | str | None) -> None:
        """Plans, or texts (None: the audio had no words) answered at once."""
        for plan in plans:
            self.plans.append(plan if isinstance(plan, Transcript | Status) else
                              Transcript(plan or ""))  # fmt: skip

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] != "POST" or scope["path"] != "/v1/audio/transcriptions":
            await _json(send, 404, _error("Unknown request URL.", "invalid_request_error", None))
            return
        if await _refused(scope, send, self.key):
            return
        self.clients.append(scope["client"][1])
        try:
            request = await self._read(scope, receive)
        except ValueError as exc:
            await _json(send, 400, _error(str(exc), "invalid_request_error", None))
            return
        self.received.append(request)
        plan = self.plans.popleft() if self.plans else Transcript("")
        if isinstance(plan, Status):
            await _json(send, plan.code, _error(plan.message, "server_error", None))
            return
        gone = asyncio.Event()
        watcher = asyncio.create_task(_disconnected(receive, gone, self.disconnects))
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(plan.delay):
                    await gone.wait()
                    return  # the client left while the server was "transcribing"
            if request.fields.get("stream") == "true" and self.streams:
                await self._stream(plan, send, gone)
            elif plan.then == "stall":
                await gone.wait()
            elif plan.then == "drop":
                raise ConnectionAbortedError("fake server drops the connection")
            else:
                await _json(send, 200, self._body(plan.text, request))
        finally:
            watcher.cancel()

    async def _read(self, scope: dict[str, Any], receive: Any) -> Received:
        form = await Request(scope, receive).form()
        upload = form.get("file")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if upload is None or isinstance(upload, str):
            raise ValueError("1 validation error: 'file' is a required property")
        if not fields.get("model"):
            raise ValueError("you must provide a model parameter")
        if fields.get("response_format", "json") not in ("json", "verbose_json", "text"):
            raise ValueError("Invalid response_format.")
        data = await upload.read()
        try:
            with wave.open(io.BytesIO(data), "rb") as wav:
                rate, frames = wav.getframerate(), wav.getnframes()
                assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        except (wave.Error, EOFError, AssertionError):
            raise ValueError("Invalid file format. Supported: flac, mp3, wav, ...") from None
        return Received(
            fields, upload.filename or "", upload.content_type or "", rate, frames / rate
        )

    def _body(self, text: str, request: Received) -> dict[str, Any]:
        if request.fields.get("response_format") != "verbose_json":
            return {"text": text}
        segment = {"id": 0, "seek": 0, "start": 0.0, "end": request.seconds, "text": text,
                   "tokens": [], "temperature": 0.0, "avg_logprob": -0.2,
                   "compression_ratio": 1.0, "no_speech_prob": 0.01}  # fmt: skip
        return {
            "task": "transcribe",
            "language": "english",
            "duration": request.seconds,
            "text": text,
            "segments": [segment] if text else [],
        }

    async def _stream(self, plan: Transcript, send: Any, gone: asyncio.Event) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})  # fmt: skip
        if self.style == "segments":
            sentences = re.findall(r"[^.?!]+[.?!]?", plan.text)
            for sent, sentence in enumerate(sentences):
                if plan.then != "finish" and sent == plan.after:
                    raise ConnectionAbortedError("fake server drops the connection")
                await asyncio.sleep(plan.delta_delay)
                await _sse(send, {"text": " " + sentence.strip()})
            await send({"type": "http.response.body", "body": b""})
            return
        words = [w + " " for w in plan.text.split()]
        for sent, word in enumerate(words):
            if plan.then != "finish" and sent == plan.after:
                break
            if gone.is_set():
                return
            if sent:
                await asyncio.sleep(plan.delta_delay)
            await _sse(send, {"type": "transcript.text.delta", "delta": word, "logprobs": None})
        else:
            if plan.then == "finish":
                usage = {"type": "tokens", "input_tokens": 10, "output_tokens": len(words),
                         "total_tokens": 10 + len(words)}  # fmt: skip
                await _sse(
                    send, {"type": "transcript.text.done", "text": plan.text, "usage": usage}
                )
                await send({"type": "http.response.body", "body": b""})
                return
        if plan.then == "stall":
            await gone.wait()
            return
        raise ConnectionAbortedError("fake server drops the connection")


@dataclass
class FakeSpeechServer:
    key: str | None = KEY
    sample_rate: int = 24000  # of pcm and wav replies
    plans: deque[Speech | Status] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)  # loop time each clip was all sent
    disconnects: list[float] = field(default_factory=list)
    pieces_sent: list[int] = field(default_factory=list)  # per request
    audio_sent: list[bytes] = field(default_factory=list)  # the PCM of each request

    def script(self, *plans: Speech | Status) -> None:
        self.plans.extend(plans)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] != "POST" or scope["path"] != "/v1/audio/speech":
            await _json(send, 404, _error("Unknown request URL.", "invalid_request_error", None))
            return
        if await _refused(scope, send, self.key):
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        problem = _invalid_speech(body)
        if problem:
            await _json(send, 400, _error(problem, "invalid_request_error", None))
            return
        request = json.loads(body)
        self.requests.append(request)
        plan = self.plans.popleft() if self.plans else Speech()
        if isinstance(plan, Status):
            await _json(send, plan.code, _error(plan.message, "server_error", None))
            return
        pcm = self.tone(len(request["input"].split()) * plan.seconds_per_word)
        self.audio_sent.append(pcm)
        self.pieces_sent.append(0)
        wav = request.get("response_format", "mp3") == "wav"
        gone = asyncio.Event()
        watcher = asyncio.create_task(_disconnected(receive, gone, self.disconnects))
        try:
            kind = b"audio/wav" if wav else b"audio/pcm"
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", kind)]})  # fmt: skip
            await asyncio.sleep(plan.first_audio_delay)
            data = (self.wav_header() if wav else b"") + pcm
            for start in range(0, len(data), plan.chunk_bytes):
                if plan.then != "finish" and self.pieces_sent[-1] == plan.after:
                    break
                if gone.is_set():
                    return
                if start:
                    await asyncio.sleep(plan.chunk_delay)
                piece = data[start : start + plan.chunk_bytes]
                await send({"type": "http.response.body", "body": piece, "more_body": True})
                self.pieces_sent[-1] += 1
            else:
                self.finished.append(asyncio.get_running_loop().time())
                await send({"type": "http.response.body", "body": b""})
                return
            if plan.then == "stall":
                await gone.wait()
                return
            raise ConnectionAbortedError("fake server drops the connection")
        finally:
            watcher.cancel()

    def tone(self, seconds: float) -> bytes:
        count = round(seconds * self.sample_rate)
        step = 2 * math.pi * 220 / self.sample_rate
        return b"".join(struct.pack("<h", round(8000 * math.sin(i * step))) for i in range(count))

    def wav_header(self) -> bytes:
        """A streamed WAV's header as ffmpeg writes it (Kokoro-FastAPI muxes with PyAV): the
        RIFF and data sizes unknown (0xFFFFFFFF), a LIST/INFO chunk between fmt and data."""
        rate = self.sample_rate
        riff = struct.pack("<4sI4s", b"RIFF", 0xFFFFFFFF, b"WAVE")
        fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16)
        software = b"Lavf61.7.100\x00"
        info = b"INFO" + struct.pack("<4sI", b"ISFT", len(software)) + software + b"\x00"  # pad
        listing = struct.pack("<4sI", b"LIST", len(info)) + info
        return riff + fmt + listing + struct.pack("<4sI", b"data", 0xFFFFFFFF)


def _invalid_speech(body: bytes) -> str | None:
    try:
        request = json.loads(body)
    except ValueError:
        return "We could not parse the JSON body of your request."
    for name in ("model", "voice", "input"):
        if not isinstance(request.get(name), str) or not request[name]:
            return f"Missing required parameter: '{name}'."
    if len(request["input"]) > 4096:
        return "'input' is too long: at most 4096 characters."
    if request["voice"] not in VOICES:
        return f"Invalid value for 'voice': {request['voice']!r}."
    if request.get("response_format", "mp3") not in ("mp3", "opus", "aac", "flac", "wav", "pcm"):
        return "Invalid value for 'response_format'."
    speed = request.get("speed", 1.0)
    if not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
        return "Invalid value for 'speed': must be between 0.25 and 4.0."
    return None


async def _sse(send: Any, data: dict[str, Any]) -> None:
    line = f"data: {json.dumps(data)}\n\n".encode()
    await send({"type": "http.response.body", "body": line, "more_body": True})
