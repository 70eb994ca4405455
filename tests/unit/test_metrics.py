"""Prometheus metrics: every session the server starts is counted and timed."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from parley.server import create_app
from parley.server.state import ServerState
from parley.session import Providers
from parley.testing.fakes import EnergyVAD, FakeLLM, FakeSTT, FakeTTS
from parley.testing.memory_transport import (
    HangUp,
    MemoryTransport,
    Say,
    ScriptedCaller,
    Silence,
    Step,
)
from tests.scenario.harness import run_virtual

from .test_server import fake_settings


def test_sessions_turns_and_voice_to_voice_are_exported() -> None:
    steps: list[Step] = [Silence(0.3), Say("hi", 1.0), Silence(3.0), HangUp()]
    providers = Providers(EnergyVAD(), FakeSTT(["hi"]), FakeLLM(["Hello."]), FakeTTS())
    app = create_app(fake_settings(), providers=providers)
    state: ServerState = app.state.parley

    async def call() -> None:
        transport = MemoryTransport()
        session = state.new_session(transport)
        async with asyncio.TaskGroup() as group:
            group.create_task(state.sessions.run(session))
            group.create_task(ScriptedCaller(transport, steps).run())

    run_virtual(call)
    text = state.metrics.render().decode()
    assert 'parley_sessions_total{transport="MemoryTransport"} 1.0' in text
    assert 'parley_responses_total{status="completed"} 1.0' in text
    assert "parley_voice_to_voice_seconds_count 1.0" in text
    assert 'parley_voice_to_voice_seconds_bucket{le="1.0"} 1.0' in text  # 0.95 s here

    with TestClient(app) as client:
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert "parley_sessions_active 0.0" in response.text


def test_the_servers_own_health_is_exported() -> None:
    """Memory, fds, tasks and loop lag: what a soak run watches for leaks."""
    app = create_app(fake_settings(), providers=Providers(EnergyVAD(), FakeSTT(), FakeLLM(),
                                                          FakeTTS()))  # fmt: skip
    with TestClient(app) as client:
        text = client.get("/metrics").text
    values = {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert values["process_resident_memory_bytes"] > 10e6
    assert values["process_open_fds"] >= 3
    assert values["parley_asyncio_tasks"] >= 2  # the lag monitor and this request at least
    assert 0 <= values["parley_event_loop_lag_seconds"] < 5
