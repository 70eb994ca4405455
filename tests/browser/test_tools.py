"""The agent ends a browser call with the built-in end_call: the goodbye plays, then
session_ended and the socket closes."""

from __future__ import annotations

import pytest

from parley.session import Providers
from parley.testing.fakes import EnergyVAD, FakeLLM, FakeSTT, FakeTTS
from parley.testing.fakes.llm import ToolReply
from parley.types import ToolCall

from .harness import parley_site, wav

pytestmark = pytest.mark.asyncio


async def test_end_call_ends_the_page_session_after_the_goodbye() -> None:
    end = ToolCall("c1", "end_call", '{"reason": "the person said goodbye"}')
    providers = Providers(
        vad=EnergyVAD(),
        stt=FakeSTT(["thanks bye"], final_latency=0.05, partial_interval=None),
        llm=FakeLLM(
            [ToolReply("", (end,)), "Goodbye now."], first_token_latency=0.05, token_latency=0.005
        ),
        tts=FakeTTS(sample_rate=16000, word_duration=0.25, first_byte_latency=0.02),
    )
    async with parley_site(providers, tools={"end_call": True}) as site, site.client() as client:
        await client.expect("connected")
        await client.say(wav(0.8))
        done = await client.expect("agent_response_done")
        metrics = (await client.expect("turn_metrics")).message
        assert metrics["tool_calls"] == 1 and 0 <= metrics["tool_ms"] < 100
        ended = await client.expect("session_ended")
        assert ended.message["reason"] == "the person said goodbye"
        assert done.message["status"] == "completed"
        audio = client.of("play_audio")
        assert sum(m["duration"] for m in audio) == pytest.approx(2 * 0.25)  # the goodbye
        assert await client.next() is None
        assert client.ws.close_code == 1000
        await site.wait_for_no_sessions()
