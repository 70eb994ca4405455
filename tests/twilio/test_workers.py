"""`parley serve --workers 2`, the real command: Twilio calls whose webhook and media stream
land on any worker (or on another process altogether) all work, the calls spread over both
workers, /health and /metrics speak for the node, and SIGTERM hangs up every call in every
worker and exits 0."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import time
import xml.etree.ElementTree as ET
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from parley.server import create_app
from parley.settings import Settings
from parley.testing.twilio_caller.caller_script import (
    CallerStep,
    HangUp,
    Pause,
    Speak,
    answered,
)
from parley.testing.twilio_caller.fake_caller import FakeCaller
from tests.hostile.stalls import http
from tests.serving import FAKE_PROVIDERS, ServeProcess, parley_serve, serving

from .harness import fake_providers, speech

pytestmark = pytest.mark.asyncio
TOKEN = "node-access-token"


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


def node(workers: int = 2) -> AbstractAsyncContextManager[ServeProcess]:
    return parley_serve(*FAKE_PROVIDERS, workers=workers, env={"PARLEY_ACCESS_TOKEN": TOKEN})


async def get(host: str, path: str) -> tuple[int, Any]:
    answer = await http(host, f"GET {path} HTTP/1.1")
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    return status, json.loads(body) if path.startswith("/health") else body.decode()


async def webhook(host: str, call_sid: str) -> dict[str, str]:
    """The stream parameters (the per-call token among them) a webhook answers."""
    body = urlencode({"CallSid": call_sid, "From": "+15550001", "To": "+15550002"}).encode()
    basic = base64.b64encode(f"twilio:{TOKEN}".encode()).decode()
    head = (f"POST /twilio/voice HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Authorization: Basic {basic}\r\nContent-Length: {len(body)}")  # fmt: skip
    twiml = (await http(host, head, body)).partition(b"\r\n\r\n")[2].decode()
    stream = ET.fromstring(twiml).find("./Connect/Stream")
    assert stream is not None, twiml
    return {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}


async def call(webhook_host: str, media_host: str, hold: float = 0.5) -> FakeCaller:
    sid = f"CA{os.urandom(16).hex()}"
    parameters = await webhook(webhook_host, sid)
    script: list[CallerStep] = [Pause(0.3), Speak(speech("question_time")),
                                answered(limit=15), Pause(hold), HangUp()]  # fmt: skip
    caller = FakeCaller(f"ws://{media_host}/twilio/media", script, call_sid=sid,
                        custom_parameters=parameters)  # fmt: skip
    await caller.run()
    return caller


def was_answered(caller: FakeCaller) -> bool:
    log = caller.log
    return bool(log.media_received) and not log.protocol_errors and log.ended_by == "caller"


async def test_calls_spread_over_the_workers_and_the_node_answers_for_all() -> None:
    async with node() as served:
        host = served.host
        seen: dict[int, int] = {}

        async def watch() -> None:
            while True:
                _, health = await get(host, "/health")
                for worker in health["workers"]:
                    seen[worker["pid"]] = max(seen.get(worker["pid"], 0), worker["sessions"])
                await asyncio.sleep(0.1)

        watcher = asyncio.create_task(watch())
        callers: list[FakeCaller] = []
        # The kernel hands each connection to whichever worker accepts first: on a loaded
        # machine one worker can win a whole burst. More bursts until both have held calls.
        for _ in range(5):
            try:
                callers += await asyncio.gather(*(call(host, host, hold=2.0) for _ in range(6)))
            except TimeoutError as exc:  # unanswered once in a loaded full run: say why
                raise AssertionError(f"{exc}\n--- the node's log ---\n{served.tail}") from exc
            if len(seen) == 2 and all(n >= 1 for n in seen.values()):
                break
        watcher.cancel()
        assert all(was_answered(c) for c in callers), [c.log for c in callers]
        assert len(seen) == 2 and all(n >= 1 for n in seen.values()), seen  # both took calls

        # A webhook answered by another process altogether (same settings): its token holds.
        settings = Settings.model_validate(
            {"vad": "energy", "stt": "fake", "llm": "fake", "tts": "fake", "access_token": TOKEN}
        )
        other = create_app(settings, providers=fake_providers([], []))
        async with serving(other, settings=settings) as elsewhere:
            assert was_answered(await call(elsewhere, host))

        # /metrics from any worker counts every worker's calls, once every session has closed
        # (a caller is done when its socket closes; its session may still be ending)
        for _ in range(100):
            _, health = await get(host, "/health")
            if health["sessions"] == 0:
                break
            await asyncio.sleep(0.05)
        for _ in range(6):
            status, text = await get(host, "/metrics")
            assert status == 200
            started = re.search(r'parley_sessions_total\{transport="TwilioTransport"\} (\S+)', text)
            assert started is not None and float(started.group(1)) == len(callers) + 1, text
            assert re.search(r"^parley_sessions_active 0\.0$", text, re.M), text
            assert re.search(r"^parley_event_loop_lag_seconds \d", text, re.M), text
        # /metrics said no session was live in either worker; /health once said 1 right
        # after it in a loaded full run (cause not found): a leaked session stays past 5 s.
        for _ in range(100):
            _, health = await get(host, "/health")
            if health["sessions"] == 0:
                break
            await asyncio.sleep(0.05)
        assert health["sessions"] == 0 and health["accepting"] is True, health
        assert served.process.returncode is None


async def test_sigterm_hangs_up_every_call_in_every_worker_and_exits_0() -> None:
    async with node() as served:
        host = served.host
        _, health = await get(host, "/health")
        workers = [w["pid"] for w in health["workers"]]
        script: list[CallerStep] = [Pause(60.0), HangUp()]
        callers = []
        for _ in range(6):
            sid = f"CA{os.urandom(16).hex()}"
            parameters = await webhook(host, sid)
            callers.append(FakeCaller(f"ws://{host}/twilio/media", script, call_sid=sid,
                                      custom_parameters=parameters))  # fmt: skip
        running = [asyncio.create_task(c.run()) for c in callers]
        for _ in range(100):
            _, health = await get(host, "/health")
            if health["sessions"] == 6:
                break
            await asyncio.sleep(0.1)
        assert health["sessions"] == 6
        served.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = await served.wait(20)
        assert code == 0, served.log
        assert time.monotonic() - started < Settings().session.close_deadline_s + 5
        await asyncio.wait_for(asyncio.gather(*running), 5)
        assert all(c.log.ended_by == "server" for c in callers), [c.log.ended_by for c in callers]
        assert not any(alive(pid) for pid in workers)
        assert "Traceback" not in served.log, served.log


async def test_a_worker_that_dies_is_started_again() -> None:
    async with node() as served:
        host = served.host
        _, health = await get(host, "/health")
        first, second = (w["pid"] for w in health["workers"])
        os.kill(first, signal.SIGKILL)
        for _ in range(100):
            _, health = await get(host, "/health")
            pids = {w["pid"] for w in health["workers"]}
            if len(pids) == 2 and first not in pids:
                break
            await asyncio.sleep(0.1)
        assert second in pids and first not in pids and len(pids) == 2
        assert was_answered(await call(host, host))


async def test_the_webhook_admits_against_the_whole_node() -> None:
    """Places held by admitted calls are the node's: every webhook over one keep-alive
    connection reaches the same worker, and with room for one call per worker the node
    still admits two before it answers busy (a worker counting only its own held places
    refused the second)."""
    env = {"PARLEY_ACCESS_TOKEN": TOKEN, "PARLEY_ADMISSION__MAX_SESSIONS": "1",
           "PARLEY_ADMISSION__WEBHOOK_HOLD_S": "60"}  # fmt: skip
    async with (
        parley_serve(*FAKE_PROVIDERS, workers=2, env=env) as served,
        httpx.AsyncClient(base_url=f"http://{served.host}", auth=("twilio", TOKEN)) as http,
    ):
        answers = []
        for _ in range(3):
            form = {"CallSid": f"CA{os.urandom(16).hex()}", "From": "+15550001", "To": "+1555"}
            response = await http.post("/twilio/voice", data=form)
            assert response.status_code == 200, response.text
            answers.append(ET.fromstring(response.text))
        assert [a.find("Connect") is not None for a in answers] == [True, True, False]
        assert answers[2].find("Reject") is not None
