"""A Call SID is 34 characters: anything else is refused before it is logged or used."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from .conftest import parley, server_log
from .stalls import _twilio_start, http

SID = "CA" + "1" * 32


@pytest.mark.parametrize(
    "call_sid", ["CA" + "1" * 16_382, "CA123", SID + "\n", "XX" + "1" * 32, ""]
)
async def test_a_start_with_a_call_sid_that_is_not_twilios_is_refused(call_sid: str) -> None:
    with server_log("text") as log:
        async with parley() as host, connect(f"ws://{host}/twilio/media") as ws:
            await ws.send(_twilio_start(call_sid, {}))
            with pytest.raises(ConnectionClosed):
                async with asyncio.timeout(5):
                    await ws.recv()
    assert "not a Twilio id" in log.getvalue()
    assert " started" not in log.getvalue()  # no call, no session


async def test_a_start_with_a_twilio_call_sid_starts_the_call() -> None:
    with server_log("text") as log:
        async with parley() as host, connect(f"ws://{host}/twilio/media") as ws:
            await ws.send(_twilio_start(SID, {}))
            await asyncio.sleep(0.5)
            assert ws.close_code is None
    assert f"twilio call {SID}: stream MZ{'0' * 32} started" in log.getvalue()


@pytest.mark.parametrize("call_sid", ["CA" + "1" * 16_382, "CA123", None])
async def test_the_webhook_refuses_a_call_sid_that_is_not_twilios(call_sid: str | None) -> None:
    form = {"From": "+15551230001"} | ({} if call_sid is None else {"CallSid": call_sid})
    body = urlencode(form).encode()
    head = "POST /twilio/voice HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded"
    async with parley() as host:
        answer = await http(host, f"{head}\r\nContent-Length: {len(body)}", body)
    assert answer.startswith(b"HTTP/1.1 400")
    assert b"CallSid is not a Twilio Call SID" in answer
