"""`parley serve` with the embedded models: /health and /metrics show the model process,
and stopping the server stops it. Slow: the real models load in a real server process.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(")")[1].split()[0] == "Z"
    except OSError:
        return True


def test_the_server_reports_its_model_process_and_stops_it_when_it_stops() -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "parley.cli", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        health: dict[str, object] = {}
        while time.monotonic() < deadline:
            try:
                status, body = get(f"http://127.0.0.1:{port}/health")
            except OSError:
                time.sleep(0.2)
                continue
            health = json.loads(body)
            if status == 200:
                break
            time.sleep(0.2)
        process = health["model_process"]
        assert isinstance(process, dict), health
        assert process["state"] == "ready"
        assert process["models"] == ["whisper", "llama", "piper"]
        child = process["pid"]
        assert isinstance(child, int) and child != server.pid
        metrics = get(f"http://127.0.0.1:{port}/metrics")[1]
        assert "parley_model_process_up 1.0" in metrics
        assert "parley_model_process_restarts_total 0.0" in metrics
        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down (lifespan included), then re-raises the signal it caught.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
        assert gone(child), "the model process outlived the server"
    finally:
        server.kill()
