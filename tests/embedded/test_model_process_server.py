"""`parley serve` with the embedded models: /health and /metrics show the model process,
and stopping the server stops it. Slow: the real models load in a real server process.
With two workers the node has one model process, the parent's child, which every worker
reports and uses.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

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


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return int(stat.read().split(")")[1].split()[1])


@pytest.mark.parametrize("workers", [1, 2])
def test_the_server_reports_its_model_process_and_stops_it_when_it_stops(workers: int) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "parley.cli", "serve", "--port", str(port), "--workers",
         str(workers)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        health: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                status, body = get(f"http://127.0.0.1:{port}/health")
            except OSError:
                time.sleep(0.2)
                continue
            health = json.loads(body)
            if status == 200 and len(health["workers"]) == workers:
                break
            time.sleep(0.2)
        process = health["model_process"]
        assert isinstance(process, dict), health
        assert process["state"] == "ready"
        assert process["models"] == ["whisper", "llama", "piper"]
        child = process["pid"]
        assert isinstance(child, int) and child != server.pid
        assert parent_of(child) == server.pid  # the node's parent owns it, not a worker
        reported = set()
        for _ in range(12):  # whichever worker answers reports the same model process
            answer = json.loads(get(f"http://127.0.0.1:{port}/health")[1])
            reported.add(answer["model_process"]["pid"])
            assert answer["model_process"]["state"] == "ready"
            if workers == 2:  # its one child: no worker started its own
                assert all(parent_of(w["pid"]) == server.pid for w in answer["workers"])
        assert reported == {child}
        models = subprocess.run(["pgrep", "-f", "model_host.child"], capture_output=True,
                                text=True).stdout.split()  # fmt: skip
        mine = [int(pid) for pid in models if parent_of(int(pid)) in
                {server.pid, *(w["pid"] for w in health["workers"])}]  # fmt: skip
        assert mine == [child]
        metrics = get(f"http://127.0.0.1:{port}/metrics")[1]
        assert "parley_model_process_up 1.0" in metrics
        assert "parley_model_process_restarts_total 0.0" in metrics
        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down (lifespan included), then re-raises the signal it caught.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
        assert gone(child), "the model process outlived the server"
    finally:
        server.kill()
