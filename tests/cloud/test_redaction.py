"""A key quoted back by a server never survives into an error: redacted first, then cut.

Cut first (at 200 characters), a key straddling the cut lost only its tail, so neither the
whole key nor its last 8 characters matched, and all but the last 2 characters reached the
client's error event and the log (Deepgram, ElevenLabs, OpenAI chat, the OpenAI-compatible
speech servers, `parley check`).
"""

from __future__ import annotations

from http import HTTPStatus

import pytest
from pydantic import SecretStr
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from parley.audio.frames import AudioFrame
from parley.providers.base import ProviderError
from parley.providers.cloud.common import open_websocket, quoted
from parley.providers.cloud.config import OpenAISpeechSettings, OpenAITranscribeSettings
from parley.providers.cloud.openai_speech import OpenAISpeechTTS
from parley.providers.cloud.openai_transcribe import OpenAITranscribeSTT
from tests.serving import serving

from .fakes.openai_audio import FakeSpeechServer, FakeTranscriptionServer
from .fakes.openai_audio import Status as AudioStatus
from .fakes.openai_chat import FakeChatServer, Status
from .fakes.servers import ws_server
from .test_openai_chat import MESSAGES, collect, llm

KEY = "sk-0123456789abcdefghijklmnopqrstuvwxyz"


def straddling(key: str) -> str:
    """A server's error text whose 200th character falls 2 characters before the key ends."""
    prefix = "x" * (200 - len(key) + 2)
    return f"{prefix}{key} was refused"


def leaked(text: str, key: str) -> bool:
    """Does `text` hold 8 or more characters of the key in a row?"""
    return any(key[i : i + 8] in text for i in range(len(key) - 7))


def test_quoted_redacts_before_it_cuts() -> None:
    text = quoted(straddling(KEY), SecretStr(KEY))
    assert not leaked(text, KEY)
    assert len(text) <= 200


async def test_a_refused_handshake_does_not_leak_a_straddling_key() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.close()

    def refuse(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(HTTPStatus.BAD_REQUEST, straddling(KEY))

    async with ws_server(handler, refuse) as url:
        with pytest.raises(ProviderError) as failure:
            await open_websocket(url, {}, provider="test", open_timeout=5, secret=SecretStr(KEY))
    message = str(failure.value)
    assert "HTTP 400" in message and "xxx" in message
    assert not leaked(message, KEY)


async def test_a_chat_error_does_not_leak_a_straddling_key() -> None:
    fake = FakeChatServer(key=KEY)
    fake.script(Status(400, straddling(KEY)))
    async with serving(fake, lifespan="off") as host:
        with pytest.raises(ProviderError) as failure:
            await collect(llm(f"http://{host}/v1", key=KEY).stream(MESSAGES))
    message = str(failure.value)
    assert "HTTP 400" in message and "xxx" in message
    assert not leaked(message, KEY)


async def test_speech_server_errors_do_not_leak_a_straddling_key() -> None:
    stt_fake, tts_fake = FakeTranscriptionServer(key=KEY), FakeSpeechServer(key=KEY)
    stt_fake.script(AudioStatus(400, straddling(KEY)))
    tts_fake.script(AudioStatus(400, straddling(KEY)))
    async with serving(stt_fake, lifespan="off") as stt_host:
        stt = OpenAITranscribeSTT(
            OpenAITranscribeSettings(base_url=f"http://{stt_host}/v1", api_key=SecretStr(KEY))
        )
        with pytest.raises(ProviderError) as stt_failure:
            await stt.transcribe(AudioFrame.silence(0.5, 16000))
    async with serving(tts_fake, lifespan="off") as tts_host:
        tts = OpenAISpeechTTS(
            OpenAISpeechSettings(base_url=f"http://{tts_host}/v1", api_key=SecretStr(KEY))
        )
        with pytest.raises(ProviderError) as tts_failure:
            async for _ in tts.synthesize("hello"):
                pass
    for failure in (stt_failure, tts_failure):
        message = str(failure.value)
        assert "HTTP 400" in message and "xxx" in message
        assert not leaked(message, KEY)
