"""SIGTERM to a real `parley serve`: the calls hear why they end, and the process exits 0."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
import time

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def wait_until_ready(base: str, server: asyncio.subprocess.Process, limit: float) -> None:
    deadline = time.monotonic() + limit
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            assert server.returncode is None, "parley serve exited during startup"
            try:
                if (await http.get(f"{base}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"parley serve was not ready within {limit} s")


async def test_sigterm_ends_sessions_with_session_ended_and_exits_zero() -> None:
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "parley.cli", "serve", "--port", str(port),
        "--vad", "energy", "--stt", "fake", "--llm", "fake", "--tts", "fake",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert server.stdout is not None
    output = asyncio.create_task(server.stdout.read())  # the log, read as it comes
    try:
        await wait_until_ready(f"http://127.0.0.1:{port}", server, 30)
        async with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5) as ws:
            assert json.loads(await ws.recv())["event"] == "connected"
            server.send_signal(signal.SIGTERM)
            received = []
            try:
                async with asyncio.timeout(10):
                    while True:
                        received.append(json.loads(await ws.recv()))
            except ConnectionClosed:
                pass
            close_code = ws.close_code
        exit_code = await asyncio.wait_for(server.wait(), 15)
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
    log = (await output).decode(errors="replace")
    ended = [m for m in received if m.get("event") == "session_ended"]
    assert ended == [{"event": "session_ended", "reason": "server shutting down"}], log
    assert close_code == 1000  # a normal close, not uvicorn's 1012 before the app could speak
    assert exit_code == 0, log
