"""`parley serve` with the embedded models: /health and /metrics show the model process,
and stopping the server stops it. Slow: the real models load in a real server process.
With two workers the node has one model process, the parent's child, which every worker
reports and uses.
"""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest

from tests.serving import parley_serve

pytestmark = pytest.mark.slow


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
async def test_the_server_reports_its_model_process_and_stops_it_when_it_stops(
    workers: int,
) -> None:
    async with (
        parley_serve(workers=workers, ready_within=120) as served,
        httpx.AsyncClient(base_url=f"http://{served.host}", timeout=5) as http,
    ):
        server = served.process
        health = (await http.get("/health")).json()
        process = health["model_process"]
        assert isinstance(process, dict), health
        assert process["state"] == "ready"
        assert process["models"] == ["whisper", "llama", "piper"]
        child = process["pid"]
        assert isinstance(child, int) and child != server.pid
        assert parent_of(child) == server.pid  # the node's parent owns it, not a worker
        reported = set()
        for _ in range(12):  # whichever worker answers reports the same model process
            answer = (await http.get("/health")).json()
            reported.add(answer["model_process"]["pid"])
            assert answer["model_process"]["state"] == "ready"
            if workers == 2:  # its one child: no worker started its own
                assert all(parent_of(w["pid"]) == server.pid for w in answer["workers"])
        assert reported == {child}
        pgrep = await asyncio.create_subprocess_exec(
            "pgrep", "-f", "model_host.child", stdout=asyncio.subprocess.PIPE
        )
        models = (await pgrep.communicate())[0].decode().split()
        mine = [int(pid) for pid in models if parent_of(int(pid)) in
                {server.pid, *(w["pid"] for w in health["workers"])}]  # fmt: skip
        assert mine == [child]
        metrics = (await http.get("/metrics")).text
        assert "parley_model_process_up 1.0" in metrics
        assert "parley_model_process_restarts_total 0.0" in metrics
        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down (lifespan included), then re-raises the signal it caught.
        assert await served.wait(30) in (0, -signal.SIGTERM), served.log
        assert gone(child), "the model process outlived the server"
