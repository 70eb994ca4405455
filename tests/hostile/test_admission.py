"""Admission control: a node at capacity refuses new calls cleanly and fast, on every
transport, and says so on /health and /health/ready; the calls it has go on."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from parley.server import create_app
from parley.server.state import ServerState
from parley.settings import Settings
from tests.serving import serving
from tests.twilio.harness import fake_providers

from .stalls import _twilio_start, http

pytestmark = pytest.mark.asyncio
REFUSED_WITHIN = 0.1  # the bound for a refusal: held by the median of TRIES
TRIES = 5  # (one try can meet a busy shared machine: each is held to 1 s)
CALL_SID = "CA" + "3" * 32


@asynccontextmanager
async def node(**admission: Any) -> AsyncIterator[tuple[str, ServerState]]:
    settings = Settings.model_validate(
        {"vad": "energy", "stt": "fake", "llm": "fake", "tts": "fake", "admission": admission}
    )
    app = create_app(settings, providers=fake_providers([], ["hello"]))
    async with serving(app, settings=settings) as host:
        yield host, app.state.parley


async def health(host: str, path: str = "/health") -> tuple[int, dict[str, Any]]:
    answer = await http(host, f"GET {path} HTTP/1.1")
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def webhook(host: str, call_sid: str = CALL_SID) -> tuple[float, str]:
    body = urlencode({"CallSid": call_sid, "From": "+15550001", "To": "+15550002"}).encode()
    head = "POST /twilio/voice HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded"
    started = time.perf_counter()
    answer = await http(host, f"{head}\r\nContent-Length: {len(body)}", body)
    return time.perf_counter() - started, answer.partition(b"\r\n\r\n")[2].decode()


async def refused_socket(url: str, **options: Any) -> tuple[float, dict[str, Any], int | None]:
    """Open a websocket; the error event it gets, how long it took, and the close code."""
    started = time.perf_counter()
    async with connect(url, **options) as ws:
        error: dict[str, Any] = {}
        with contextlib.suppress(ConnectionClosed):  # 1013 is not a normal close
            async for message in ws:
                event = json.loads(message)
                if "error" in (event.get("type"), event.get("event")):
                    error = event
        elapsed = time.perf_counter() - started
        return elapsed, error, ws.close_code


def fast(times: list[float]) -> None:
    assert statistics.median(times) < REFUSED_WITHIN and max(times) < 1.0, times


async def hold_a_call(host: str) -> Any:
    """A browser session that stays open (the node's one call)."""
    ws = await connect(f"ws://{host}/ws")
    while json.loads(await ws.recv())["event"] != "connected":
        pass
    return ws


async def test_at_max_sessions_every_transport_refuses_and_health_says_so() -> None:
    async with node(max_sessions=1) as (host, state):
        status, ready = await health(host, "/health/ready")
        assert (status, ready["accepting"]) == (200, True)
        call = await hold_a_call(host)
        try:
            for _ in range(100):
                if len(state.sessions) == 1:
                    break
                await asyncio.sleep(0.01)
            # Twilio: a busy signal instead of a stream, fast
            times = []
            for _ in range(TRIES):
                elapsed, twiml = await webhook(host)
                root = ET.fromstring(twiml)
                reject = root.find("Reject")
                assert reject is not None and reject.attrib == {"reason": "busy"}, twiml
                assert root.find("Connect") is None
                times.append(elapsed)
            fast(times)
            # a media stream arriving anyway: closed without a session
            async with connect(f"ws://{host}/twilio/media") as ws:
                await ws.send(json.dumps({"event": "connected", "protocol": "Call"}))
                await ws.send(_twilio_start(CALL_SID, {}))
                async with asyncio.timeout(2):
                    async for _ in ws:
                        pass
            # /ws and /v1/realtime: a busy error, close 1013
            times = []
            for _ in range(TRIES):
                elapsed, error, code = await refused_socket(f"ws://{host}/ws")
                assert (error.get("code"), code) == ("busy", 1013), error
                assert "max_sessions" in error["message"]
                times.append(elapsed)
            fast(times)
            times = []
            for _ in range(TRIES):
                elapsed, error, code = await refused_socket(f"ws://{host}/v1/realtime")
                assert (error["error"]["code"], code) == ("busy", 1013), error
                times.append(elapsed)
            fast(times)
            assert len(state.sessions) == 1  # nothing got a session
            # /health: still 200 (the node is up), but not accepting; the readiness path 503
            status, body = await health(host)
            assert status == 200 and body["status"] == "ok"
            assert body["accepting"] is False and body["sessions"] == 1
            status, ready = await health(host, "/health/ready")
            assert status == 503 and ready["accepting"] is False
            assert "max_sessions" in ready["reason"]
            # the call in progress goes on, and ends as usual
            await call.send(json.dumps({"type": "hangup"}))
            async with asyncio.timeout(5):
                while json.loads(await call.recv())["event"] != "session_ended":
                    pass
        finally:
            await call.close()
        # once it ends, calls are welcome again
        for _ in range(200):
            if (await health(host, "/health/ready"))[0] == 200:
                break
            await asyncio.sleep(0.02)
        _, twiml = await webhook(host)
        assert ET.fromstring(twiml).find("Connect") is not None


async def test_a_late_event_loop_refuses_new_calls() -> None:
    async with node(max_loop_lag_s=0.05) as (host, state):
        assert state.busy() is None
        deadline = time.monotonic() + 10
        while state.busy() is None and time.monotonic() < deadline:
            await asyncio.sleep(0)  # every wake of the lag probe comes over 0.1 s late
            time.sleep(0.1)  # noqa: ASYNC251 (the point: the loop is held up)
        assert state.busy() is not None and "late" in str(state.busy())
        _, twiml = await webhook(host)
        assert ET.fromstring(twiml).find("Reject") is not None
        for _ in range(100):  # the lag goes, the node takes calls again
            await asyncio.sleep(0.05)
            if state.busy() is None:
                break
        assert state.busy() is None


async def test_a_burst_of_calls_is_refused_at_the_webhook_not_at_the_stream() -> None:
    """Each call the webhook admits holds its place until its stream starts: a burst of
    webhooks before any stream is refused where the caller hears a busy signal."""
    sids = ["CA" + str(n) * 32 for n in range(1, 5)]
    async with node(max_sessions=2, webhook_hold_s=0.5) as (host, state):
        answers = [ET.fromstring((await webhook(host, sid))[1]) for sid in sids[:3]]
        assert [a.find("Connect") is not None for a in answers] == [True, True, False]
        assert answers[2].find("Reject") is not None
        assert len(state.held) == 2 and "streams not started" in str(state.busy())
        # the first call's stream starts: its place becomes the session, the second still holds
        async with connect(f"ws://{host}/twilio/media") as ws:
            await ws.send(json.dumps({"event": "connected", "protocol": "Call"}))
            await ws.send(_twilio_start(sids[0], {}))
            for _ in range(200):
                if len(state.sessions) == 1:
                    break
                await asyncio.sleep(0.01)
            assert (len(state.sessions), len(state.held)) == (1, 1)
            assert ET.fromstring((await webhook(host, sids[3]))[1]).find("Reject") is not None
            # the second call's stream never comes: its place is given back after the hold
            await asyncio.sleep(0.6)
            assert len(state.held) == 0 and state.busy() is None
            assert ET.fromstring((await webhook(host, sids[3]))[1]).find("Connect") is not None
