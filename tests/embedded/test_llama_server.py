"""The OpenAI-compatible chat adapter against llama.cpp's own server, for real.

`python -m llama_cpp.server` (llama-cpp-python's server extra, the same build the embedded
LLM uses) serves SmolLM2-135M from its PyPI package on a free loopback port, with a key, as
a shared inference server would. The adapter streams from it, cancels mid-stream (the
server stops generating for a client that left), and answers a whole call with the scripted
STT and TTS around it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.events import AgentResponseDone, AgentSpeaking, UserSpeechStopped
from parley.providers.cloud.common import CredentialsError
from parley.providers.cloud.config import OpenAIChatSettings
from parley.providers.cloud.openai_chat import OpenAIChatLLM
from parley.providers.local import assets
from parley.session import Providers
from parley.testing.fakes import EnergyVAD, FakeSTT, FakeTTS
from parley.testing.memory_transport import HangUp, Say, Silence, Step
from parley.types import ChatMessage
from tests.cloud.calls import Fakes, converse
from tests.conftest import Measure
from tests.serving import free_port

from .conftest import answered

pytestmark = pytest.mark.slow
KEY = "sk-llama-server-0123456789abcdef"
MESSAGES = [
    ChatMessage("system", "You are a helpful assistant. Answer in one short sentence."),
    ChatMessage("user", "What is the capital of France?"),
]


@dataclass
class LlamaServer:
    url: str  # the OpenAI-compatible root, .../v1
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(assets.smollm2_gguf()), "--model_alias", "smollm2",
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "2", "--api_key", KEY,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = LlamaServer(f"http://127.0.0.1:{port}/v1", log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited {process.returncode}:\n{server.output()}")
            try:
                headers = {"Authorization": f"Bearer {KEY}"}
                if httpx.get(f"{server.url}/models", headers=headers, timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start in 60 s:\n{server.output()}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def llm(server: LlamaServer, **changes: Any) -> OpenAIChatLLM:
    values: dict[str, Any] = {
        "base_url": server.url,
        "api_key": KEY,
        "model": "smollm2",
        "temperature": 0,
        "max_tokens": 32,
        "first_token_timeout_s": 30,
        "read_timeout_s": 30,
    }
    return OpenAIChatLLM(OpenAIChatSettings.model_validate({**values, **changes}))


async def test_a_streamed_answer_arrives_token_by_token(
    llama_server: LlamaServer, measured: Measure
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    arrivals: list[tuple[float, str]] = []
    async for delta in llm(llama_server).stream(MESSAGES):
        arrivals.append((loop.time(), delta))
    text = "".join(d for _, d in arrivals)
    assert len(arrivals) >= 3 and text.strip(), arrivals
    assert arrivals[-1][0] - arrivals[0][0] > 0  # streamed, not one reply at the end
    first = arrivals[0][0] - started
    rate = (len(arrivals) - 1) / (arrivals[-1][0] - arrivals[0][0])
    measured("llama.cpp server: first token (SmolLM2-135M, 2 threads)", first * 1000, "ms")
    measured("llama.cpp server: deltas per second", round(rate, 1), "/s")


async def test_cancelling_mid_stream_stops_the_servers_generation(
    llama_server: LlamaServer,
) -> None:
    adapter = llm(llama_server, max_tokens=200)
    long_answer = [MESSAGES[0], ChatMessage("user", "Tell me a long story about a dragon.")]
    stream = adapter.stream(long_answer)
    got = [await anext(stream) for _ in range(3)]
    assert all(isinstance(d, str) for d in got)
    await stream.aclose()
    # The server notices the client left and stops; a new request is answered at once
    # instead of waiting behind 200 tokens nobody will hear.
    loop = asyncio.get_running_loop()
    started = loop.time()
    reply = await anext(adapter.stream(MESSAGES))
    assert reply is not None and loop.time() - started < 10
    for _ in range(50):
        if "Disconnected from client" in llama_server.output():
            break
        await asyncio.sleep(0.1)
    assert "Disconnected from client" in llama_server.output()


async def test_a_wrong_key_is_a_credentials_error(llama_server: LlamaServer) -> None:
    with pytest.raises(CredentialsError, match="HTTP 401"):
        async for _ in llm(llama_server, api_key="sk-not-the-server-key-000").stream(MESSAGES):
            pass


async def test_a_whole_call_is_answered_by_the_llama_server(
    llama_server: LlamaServer, measured: Measure
) -> None:
    steps: list[Step] = [
        Silence(0.3),
        Say("What is the capital of France?", 1.2),
        answered(1, limit=40),
        HangUp(),
    ]
    stt = FakeSTT(["What is the capital of France?"], final_latency=0.05)
    providers = Providers(EnergyVAD(), stt, llm(llama_server), FakeTTS())
    done = await converse(providers, Fakes(), steps)

    assert done.errors() == []
    [(_, response)] = done.events(AgentResponseDone)
    assert response.status == "completed"
    reply = [m for m in done.session.conversation.history if m.role == "assistant"]
    assert reply and reply[0].content.strip()
    stopped = done.events(UserSpeechStopped)[0][0]
    speaking = done.events(AgentSpeaking)[0][0]
    measured("llama.cpp server: end of speech to first audio (fake STT/TTS)",
             (speaking - stopped) * 1000, "ms")  # fmt: skip
