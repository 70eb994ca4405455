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
import socket
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

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
from tests.serving import serving

from .harness import fake_providers, speech

pytestmark = pytest.mark.asyncio
TOKEN = "node-access-token"
FAKES = ["--vad", "energy", "--stt", "fake", "--llm", "fake", "--tts", "fake"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


@asynccontextmanager
async def node(workers: int = 2) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    port = free_port()
    command = [sys.executable, "-m", "parley.cli", "serve", "--port", str(port), *FAKES]
    server = await asyncio.create_subprocess_exec(
        *command, "--workers", str(workers), env={**os.environ, "PARLEY_ACCESS_TOKEN": TOKEN},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    host = f"127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                status, body = await get(host, "/health")
                if status == 200 and len(body["workers"]) == workers:
                    break
            except (OSError, ValueError, IndexError):
                pass
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the node did not come up")
        yield host, server
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()


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
    async with node() as (host, server):
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
            callers += await asyncio.gather(*(call(host, host, hold=2.0) for _ in range(6)))
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

        # /metrics from any worker counts every worker's calls
        for _ in range(6):
            status, text = await get(host, "/metrics")
            assert status == 200
            started = re.search(r'parley_sessions_total\{transport="TwilioTransport"\} (\S+)', text)
            assert started is not None and float(started.group(1)) == len(callers) + 1, text
            assert re.search(r"^parley_sessions_active 0\.0$", text, re.M), text
            assert re.search(r"^parley_event_loop_lag_seconds \d", text, re.M), text
        _, health = await get(host, "/health")
        assert health["sessions"] == 0 and health["accepting"] is True
        assert server.returncode is None


async def test_sigterm_hangs_up_every_call_in_every_worker_and_exits_0() -> None:
    async with node() as (host, server):
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
        server.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = await asyncio.wait_for(server.wait(), 20)
        assert code == 0
        assert time.monotonic() - started < Settings().session.close_deadline_s + 5
        await asyncio.wait_for(asyncio.gather(*running), 5)
        assert all(c.log.ended_by == "server" for c in callers), [c.log.ended_by for c in callers]
        assert not any(alive(pid) for pid in workers)
        assert server.stderr is not None
        log = (await server.stderr.read()).decode()
        assert "Traceback" not in log, log


async def test_a_worker_that_dies_is_started_again() -> None:
    async with node() as (host, _):
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
