"""`parley serve --log-format json`: the real command, its stderr one JSON object per line."""

from __future__ import annotations

import json

from tests.serving import FAKE_PROVIDERS, parley_serve

from .stalls import http, twilio_start


async def test_serve_logs_json_lines_with_client_values_as_fields() -> None:
    async with parley_serve(*FAKE_PROVIDERS, "--log-format", "json") as served:
        await http(served.host, 'GET /health?"%0A' + "a" * 5000 + " HTTP/1.1")
        await twilio_start(served.host, "CA" + "1" * 32 + "\n[time] ERROR FORGED-LINE \x1b[2J", {})
    text = served.log
    assert "\x1b" not in text
    entries = [json.loads(line) for line in text.splitlines()]
    access = [e for e in entries if e["logger"] == "uvicorn.access" and "%0A" in e["path"]]
    assert len(access) == 1
    answered = access[0]["message"]
    assert answered == '{client} - "{method} {path} HTTP/{http_version}" 200', text[-5000:]
    assert access[0]["path"].endswith("...(4812 more)")
    refused = [e for e in entries if "stream refused" in e["message"]]
    assert len(refused) == 1 and "not a Twilio id" in refused[0]["reason"]
