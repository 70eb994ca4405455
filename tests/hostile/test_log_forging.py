"""No client can add a line to the server's log, or send an escape sequence to whoever reads it.

The review's forgery: a Twilio callSid/streamSid holding a newline, a line that starts like
a real ERROR record, and `ESC[2J` (clear the screen). The same text goes in through every
door of a real server, in both log formats; the log must keep one record per line (text:
tracebacks indented; json: one object per line) and hold no control character.
"""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import connect

from parley.logsafe import LogFormat

from .conftest import parley, server_log
from .stalls import http, twilio_start

FORGED = "\n[12/01/26 02:30:00] ERROR    FORGED-LINE \x1b[2J"
SID = "CA" + "1" * 32
RECORD_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) ")


async def forge_everywhere(host: str) -> None:
    await twilio_start(host, SID + FORGED, {})  # the Call SID
    await twilio_start(host, SID, {"parley_token" + FORGED: 1})  # a parameter name
    body = urlencode({"CallSid": SID + FORGED, "From": FORGED}).encode()
    head = "POST /twilio/voice HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded"
    await http(host, f"{head}\r\nContent-Length: {len(body)}", body)
    async with connect(f"ws://{host}/v1/realtime") as ws:  # an unknown session parameter
        await ws.recv()
        await ws.send(json.dumps({"type": "session.update", "session": {"x" + FORGED: 1}}))
        async with asyncio.timeout(10):
            while json.loads(await ws.recv())["type"] != "error":
                pass
    await http(host, "GET /health?" + FORGED.replace("\n", "%0A").replace(" ", "+") + " HTTP/1.1")
    await asyncio.sleep(0.2)  # the last records are written


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_a_forged_line_stays_inside_its_record(fmt: LogFormat) -> None:
    with server_log(fmt) as sink:
        async with parley() as host:
            await forge_everywhere(host)
    log = sink.getvalue()
    assert "FORGED-LINE" in log  # it was logged (the realtime parameter), as data
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", log), "a control character in the log"
    lines = log.splitlines()
    if fmt == "text":
        for line in lines:
            assert RECORD_START.match(line) or line.startswith("    "), line
    else:
        entries = [json.loads(line) for line in lines]
        assert all(isinstance(entry, dict) for entry in entries)
        assert not any("FORGED" in entry["message"] for entry in entries)
