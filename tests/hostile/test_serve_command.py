"""`parley serve --log-format json`: the real command, its stderr one JSON object per line."""

from __future__ import annotations

import asyncio
import json
import socket
import sys

from .stalls import http, twilio_start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_serve_logs_json_lines_with_client_values_as_fields() -> None:
    port = free_port()
    providers = ["--vad", "energy", "--stt", "fake", "--llm", "fake", "--tts", "fake"]
    command = [sys.executable, "-m", "parley.cli", "serve", "--port", str(port), *providers]
    command += ["--log-format", "json"]
    server = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    host = f"127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if (await http(host, "GET /health HTTP/1.1")).startswith(b"HTTP/1.1 200"):
                    break
            except OSError:
                pass
            await asyncio.sleep(0.05)
        await http(host, 'GET /health?"%0A' + "a" * 5000 + " HTTP/1.1")
        await twilio_start(host, "CA" + "1" * 32 + "\n[time] ERROR FORGED-LINE \x1b[2J", {})
    finally:
        server.terminate()
        _, stderr = await asyncio.wait_for(server.communicate(), 20)
    text = stderr.decode()
    assert "\x1b" not in text
    entries = [json.loads(line) for line in text.splitlines()]
    access = [e for e in entries if e["logger"] == "uvicorn.access" and "%0A" in e["path"]]
    assert len(access) == 1
    assert access[0]["message"] == '{client} - "{method} {path} HTTP/{http_version}" 200'
    assert access[0]["path"].endswith("...(4812 more)")
    refused = [e for e in entries if "stream refused" in e["message"]]
    assert len(refused) == 1 and "not a Twilio id" in refused[0]["reason"]
