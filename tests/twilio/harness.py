"""A parley server and a fake of Twilio's REST API, both on loopback, in the test's loop.

Running uvicorn in the test's own event loop puts the server, the fake caller and the fake
REST API on one clock: the caller's timestamps compare directly with the session's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from parley.audio.frames import AudioFrame
from parley.audio.wavfile import read_wav
from parley.events import SessionEvent
from parley.server import create_app
from parley.server.routes.twilio import twilio_calls
from parley.session import Session
from parley.session.config import Providers
from parley.settings import Settings
from parley.testing.fakes import FakeLLM, FakeSTT, FakeTTS
from parley.testing.fakes.llm import Scripted
from parley.testing.fakes.vad import EnergyVAD
from parley.testing.twilio_caller.fake_caller import (
    FakeCaller,
    Pause,
    Speak,
    WaitFor,
    agent_finished,
)
from parley.transports.twilio.messages import StreamStart
from tests.serving import serving

DATA = Path(__file__).parent.parent / "data"
FRAME = 0.02
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-not-a-secret"


def speech(name: str) -> AudioFrame:
    """A clip from tests/data (texts in tests/data/README.md)."""
    return read_wav(DATA / f"{name}.wav")


def caller_on_hold(url: str) -> FakeCaller:
    """A caller on `url` who asks the time, hears the answer out, and stays on the line (a
    minute) until the server or the test ends the call."""
    return FakeCaller(url, [
        Pause(0.3),
        Speak(speech("question_time"), "question"),
        WaitFor(agent_finished(0.5), what="the answer"),
        Pause(60.0),
    ])  # fmt: skip


def fake_providers(
    heard: Sequence[str | None], replies: Sequence[Scripted], *, tts_word: float = 0.25
) -> Providers:
    """Loudness VAD (works on real speech), scripted STT/LLM, a 16 kHz TTS (so the pipeline
    resamples to the phone's 8 kHz)."""
    return Providers(
        vad=EnergyVAD(),
        stt=FakeSTT(heard, final_latency=0.1, partial_interval=None),
        llm=FakeLLM(replies, first_token_latency=0.1, token_latency=0.01),
        tts=FakeTTS(sample_rate=16000, word_duration=tts_word, first_byte_latency=0.05),
    )


@dataclass
class CallSite:
    """A running parley server with its Twilio routes, and what its calls did."""

    app: FastAPI
    host: str
    sessions: list[Session] = field(default_factory=list)
    starts: list[StreamStart] = field(default_factory=list)
    events: list[tuple[float, SessionEvent]] = field(default_factory=list)

    @property
    def media_url(self) -> str:
        return f"ws://{self.host}/twilio/media"

    def caller(self, script: Sequence[Any], **options: Any) -> FakeCaller:
        return FakeCaller(self.media_url, script, **options)

    def events_of(self, kind: type) -> list[tuple[float, Any]]:
        return [(t, e) for t, e in self.events if isinstance(e, kind)]


@contextlib.asynccontextmanager
async def parley_server(providers: Providers, **settings: Any) -> AsyncIterator[CallSite]:
    config = {"vad": "energy", "stt": "fake", "llm": "fake", "tts": "fake", **settings}
    app = create_app(Settings.model_validate(config), providers=providers)
    async with serving(app) as host:
        site = CallSite(app, host)

        def started(call: StreamStart, session: Session) -> None:
            site.starts.append(call)
            site.sessions.append(session)
            loop = asyncio.get_running_loop()
            session.observers.append(lambda event: site.events.append((loop.time(), event)))

        twilio_calls(app).on_call_started.append(started)
        yield site


# --- a fake of Twilio's REST API -------------------------------------------------------------


@dataclass
class RestRequest:
    at: float
    account_sid: str
    call_sid: str
    form: dict[str, str]
    authorized: bool


class FakeTwilioRest:
    """POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json, as Twilio answers it:
    Basic auth checked (401, code 20003), unknown or ended calls 404 with code 20404, and a
    completed (or redirected, `Twiml`) call ends the caller's stream (`stop`, then close)
    like the real thing: just after answering, not before (the server may wait for the
    answer to close its side)."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.callers: dict[str, FakeCaller] = {}
        self.requests: list[RestRequest] = []
        self._endings: set[asyncio.Task[None]] = set()

        @contextlib.asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            yield
            await asyncio.gather(*self._endings)

        self.app = FastAPI(lifespan=lifespan)
        self.app.post("/2010-04-01/Accounts/{account_sid}/Calls/{call_sid}.json")(self._update)

    def add(self, caller: FakeCaller) -> FakeCaller:
        self.callers[caller.call_sid] = caller
        return caller

    async def _update(self, account_sid: str, call_sid: str, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        authorized = request.headers.get("authorization") == f"Basic {expected}"
        self.requests.append(RestRequest(time.monotonic(), account_sid, call_sid, form, authorized))
        if not authorized or account_sid != self.account_sid:
            return _twilio_error(401, 20003, "Authenticate")
        caller = self.callers.pop(call_sid, None)
        if caller is None or not re.fullmatch(r"CA[0-9a-f]{32}", call_sid):
            return _twilio_error(404, 20404, f"The requested resource {request.url.path} "
                                 "was not found")  # fmt: skip
        # Hanging up ends the stream; so does new TwiML (a transfer's <Dial>): the call leaves
        # its <Connect><Stream>.
        if form.get("Status") == "completed" or "Twiml" in form:
            ending = asyncio.create_task(caller.end_call("twilio"))
            self._endings.add(ending)
            ending.add_done_callback(self._endings.discard)
        return JSONResponse({"sid": call_sid, "status": "completed"})


def _twilio_error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
         "status": status},
        status_code=status,
    )  # fmt: skip
