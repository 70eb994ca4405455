"""SIGTERM to a real `parley serve`: the calls hear why they end, and the process exits 0."""

from __future__ import annotations

import asyncio
import json
import signal

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.serving import FAKE_PROVIDERS, parley_serve


async def test_sigterm_ends_sessions_with_session_ended_and_exits_zero() -> None:
    async with parley_serve(*FAKE_PROVIDERS) as served:
        async with connect(f"ws://{served.host}/ws", open_timeout=5) as ws:
            assert json.loads(await ws.recv())["event"] == "connected"
            served.process.send_signal(signal.SIGTERM)
            received = []
            try:
                async with asyncio.timeout(10):
                    while True:
                        received.append(json.loads(await ws.recv()))
            except ConnectionClosed:
                pass
            close_code = ws.close_code
        exit_code = await served.wait(15)
    ended = [m for m in received if m.get("event") == "session_ended"]
    assert ended == [{"event": "session_ended", "reason": "server shutting down"}], served.log
    assert close_code == 1000  # a normal close, not uvicorn's 1012 before the app could speak
    assert exit_code == 0, served.log
