"""`parley check` against the fake servers: what works, with latencies; what fails, and why."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from pydantic import SecretStr
from rich.console import Console

from parley.check import render, run_checks
from parley.settings import Settings
from tests.serving import serving

from .fakes import deepgram, elevenlabs, openai_audio, openai_chat, realtime
from .fakes.servers import closed_port, ws_server

AUDIO_KEY = openai_audio.KEY


@asynccontextmanager
async def all_fakes() -> AsyncIterator[dict[str, Any]]:
    fakes: dict[str, Any] = {
        "deepgram": deepgram.FakeDeepgram(),
        "chat": openai_chat.FakeChatServer(),
        "elevenlabs": elevenlabs.FakeElevenLabs(),
        "realtime": realtime.FakeRealtime(),
    }
    async with AsyncExitStack() as stack:
        urls = {}
        for name in ("deepgram", "elevenlabs", "realtime"):
            fake = fakes[name]
            urls[name] = await stack.enter_async_context(
                ws_server(fake.handler, fake.process_request)
            )
        chat = await stack.enter_async_context(serving(fakes["chat"], lifespan="off"))
        urls["chat"] = f"http://{chat}"
        fakes["urls"] = urls
        yield fakes


def settings_for(urls: dict[str, str], **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "vad": "energy",
        "stt": "deepgram",
        "llm": "openai",
        "tts": "elevenlabs",
        "deepgram": {"base_url": urls["deepgram"] + "/v1/listen", "api_key": deepgram.KEY},
        "openai": {"base_url": urls["chat"] + "/v1", "api_key": openai_chat.KEY},
        "elevenlabs": {"base_url": urls["elevenlabs"] + "/v1", "api_key": elevenlabs.KEY},
        "openai_realtime": {"base_url": urls["realtime"] + "/v1/realtime", "api_key": realtime.KEY},
    }
    for section, changes in overrides.items():
        if isinstance(changes, dict):
            values[section] = {**values[section], **changes}
        else:
            values[section] = changes
    return Settings.model_validate(values)


def text_of(results: Any) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(render(results))
    return console.export_text()


async def test_every_configured_provider_works_against_the_fakes() -> None:
    async with all_fakes() as fakes:
        results = await run_checks(settings_for(fakes["urls"]))
        realtime_results = await run_checks(
            settings_for(
                fakes["urls"],
                vad="openai-realtime",
                stt="openai-realtime",
                llm="openai-realtime",
                tts="openai-realtime",
            )
        )
    assert [(r.provider, r.ok) for r in results] == [
        ("deepgram", True),
        ("openai", True),
        ("elevenlabs", True),
    ]
    assert [(r.provider, r.kinds, r.ok) for r in realtime_results] == [
        ("openai-realtime", ["vad", "stt", "llm", "tts"], True)
    ]
    assert set(results[0].latencies) == {"connect", "flush", "total"}
    assert "first token" in results[1].latencies and "first audio" in results[2].latencies
    assert all(0 < ms < 5000 for r in results for ms in r.latencies.values())
    table = text_of(results + realtime_results)
    assert "replied 'Hello there. How can I help?'" in table
    assert "accepted the session" in table


async def test_failures_say_why_and_never_show_a_key() -> None:
    wrong = "wrong-secret-key-0123456789"
    async with all_fakes() as fakes:
        fakes["chat"].script(openai_chat.Reply("x", then="stall"))
        settings = settings_for(
            fakes["urls"],
            deepgram={"api_key": wrong},
            openai={"first_token_timeout_s": 0.3},
            elevenlabs={"base_url": f"ws://{closed_port()}/v1"},
        )
        results = await run_checks(settings)
    problems = {r.provider: r.problem for r in results}
    assert problems == {"deepgram": "bad key", "openai": "timeout", "elevenlabs": "no route"}
    table = text_of(results)
    assert wrong not in table and wrong[-8:] not in table
    assert "HTTP 401" in table and "no first token within 0.3 s" in table


async def test_servers_that_fail_after_opening_say_why_without_a_traceback() -> None:
    # Deepgram: an Error message, then close 1011. OpenAI Realtime: a bad key is accepted at
    # the handshake, then an invalid_api_key error and close 3000.
    wrong = "sk-wrong-realtime-key-0123456789"
    async with all_fakes() as fakes:
        fakes["deepgram"].error_at = {1: 0.1}
        fakes["realtime"].reject_after_open = True
        results = await run_checks(settings_for(fakes["urls"], llm="fake", tts="fake"))
        realtime_results = await run_checks(
            settings_for(
                fakes["urls"],
                stt="openai-realtime",
                llm="fake",
                tts="fake",
                openai_realtime={"api_key": wrong},
            )
        )
    [deepgram_result] = results
    assert deepgram_result.problem == "error"
    assert "Internal server error while transcribing the audio." in deepgram_result.detail
    assert "1011" in deepgram_result.detail
    [realtime_result] = realtime_results
    assert realtime_result.problem == "bad key"
    assert "invalid_api_key" in realtime_result.detail
    table = text_of(results + realtime_results)
    assert wrong not in table and wrong[-8:] not in table


async def test_a_server_that_never_answers_the_handshake_is_a_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)  # take the upgrade request, answer nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, all_fakes() as fakes:
        settings = settings_for(
            fakes["urls"],
            llm="fake",
            tts="fake",
            deepgram={"base_url": f"ws://127.0.0.1:{port}/v1/listen", "connect_timeout_s": 0.3},
        )
        results = await run_checks(settings)
    assert [(r.provider, r.problem) for r in results] == [("deepgram", "timeout")]
    assert "no answer within 0.3 s" in results[0].detail


def test_no_cloud_provider_means_nothing_to_check(capsys: pytest.CaptureFixture[str]) -> None:
    from parley.cli import main

    assert (
        main(["check", "--stt", "fake", "--llm", "fake", "--tts", "fake", "--vad", "energy"]) == 0
    )
    assert "No cloud provider is configured" in capsys.readouterr().out


@asynccontextmanager
async def speech_fakes(
    stt: openai_audio.FakeTranscriptionServer, tts: openai_audio.FakeSpeechServer
) -> AsyncIterator[Settings]:
    async with serving(stt, lifespan="off") as stt_host, serving(tts, lifespan="off") as tts_host:
        yield Settings.model_validate(
            {
                "vad": "energy",
                "stt": "openai-transcribe",
                "llm": "fake",
                "tts": "openai-speech",
                "openai_transcribe": {"base_url": f"http://{stt_host}/v1", "api_key": AUDIO_KEY},
                "openai_speech": {"base_url": f"http://{tts_host}/v1", "api_key": AUDIO_KEY},
            }
        )


async def test_speech_servers_are_checked_with_one_request_each() -> None:
    stt, tts = openai_audio.FakeTranscriptionServer(), openai_audio.FakeSpeechServer()
    stt.script("")
    async with speech_fakes(stt, tts) as settings:
        results = await run_checks(settings)
    assert [(r.provider, r.kinds, r.ok) for r in results] == [
        ("openai-transcribe", ["stt"], True),
        ("openai-speech", ["tts"], True),
    ]
    assert "transcript" in results[0].latencies and "first audio" in results[1].latencies
    assert [r.seconds for r in stt.received] == [0.5] and len(tts.requests) == 1
    table = text_of(results)
    assert "transcribed 0.5 s of silence as ''" in table and "voice alloy spoke 0.20 s" in table


async def test_speech_server_failures_say_why_and_never_show_a_key() -> None:
    wrong = "sk-wrong-speech-key-0123456789"
    stt, tts = openai_audio.FakeTranscriptionServer(), openai_audio.FakeSpeechServer()
    stt.script(openai_audio.Status(500, "model not loaded"))  # no retry in a check
    async with speech_fakes(stt, tts) as settings:
        results = await run_checks(
            settings.model_copy(
                update={
                    "openai_speech": settings.openai_speech.model_copy(
                        update={"api_key": SecretStr(wrong)}
                    )
                }
            )
        )
        unreachable = settings.openai_transcribe.model_copy(
            update={"base_url": f"http://{closed_port()}/v1"}
        )
        results += await run_checks(
            settings.model_copy(update={"openai_transcribe": unreachable, "tts": "fake"})
        )
    assert [(r.provider, r.problem) for r in results] == [
        ("openai-transcribe", "error"),
        ("openai-speech", "bad key"),
        ("openai-transcribe", "no route"),
    ]
    assert "HTTP 500: model not loaded" in results[0].detail and len(stt.received) == 1
    table = text_of(results)
    assert wrong not in table and wrong[-8:] not in table
