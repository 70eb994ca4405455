"""`parley call`: the fake caller as a tool, against a running server."""

from __future__ import annotations

import io
import wave
from pathlib import Path

from rich.console import Console

from parley.server.routes.twilio import stream_key
from parley.settings import Settings
from parley.testing.twilio_caller.call_command import run_call

from .harness import AUTH_TOKEN, DATA, fake_providers, parley_server


async def test_call_prints_the_timeline_and_records_what_was_heard(tmp_path: Path) -> None:
    providers = fake_providers(["what time is it"], ["Nine in the evening."])
    out = io.StringIO()
    console = Console(file=out, width=120)
    record = tmp_path / "heard.wav"
    settings = Settings.model_validate({"twilio": {"auth_token": AUTH_TOKEN}})
    async with parley_server(providers, twilio={"auth_token": AUTH_TOKEN}) as site:
        wavs = [DATA / "question_time.wav"]
        caller = await run_call(site.media_url, wavs, stream_key(settings), console, record=record)
    text = out.getvalue()
    assert "question_time.wav" in text and "marks echoed 50/50" in text
    assert "ended by caller" in text and "protocol error" not in text
    assert len(site.sessions) == 1  # the stream token from the settings was accepted
    with wave.open(str(record)) as wav:
        samples = wav.readframes(wav.getnframes())
    heard = sum(1 for i in range(0, len(samples), 2) if samples[i : i + 2] != b"\x00\x00")
    assert abs(heard / 8000 - 1.0) < 0.03  # four words of 250 ms
    assert caller.log.closed_at is not None
