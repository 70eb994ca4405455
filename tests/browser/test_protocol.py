"""WS /ws spoken like a page would: turns with the page's VAD, streaming with the server's,
WebM/Opus utterances, and hanging up."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import numpy as np
import pytest

from parley.testing.fakes import FakeSTT
from tests.scenario.harness import contiguous

from .harness import fake_providers, opus, parley_site, pcm_of, tone, wav

pytestmark = pytest.mark.asyncio


def assert_gapless(audio: list[dict[str, Any]]) -> None:
    """Each play_audio starts where the one before ended: offsets and samples."""
    for before, after in itertools.pairwise(audio):
        assert after["offset"] == pytest.approx(before["offset"] + before["duration"], abs=1e-6)
    assert contiguous(np.concatenate([pcm_of(m) for m in audio]))


async def test_a_turn_with_the_page_vad_then_hangup() -> None:
    providers = fake_providers(["what time is it"], ["It is noon now."])
    async with parley_site(providers) as site, site.client() as client:
        hello = (await client.expect("connected")).message
        assert hello["session_id"].startswith("browser-")
        assert hello["output_sample_rate"] == 16000 and hello["audio_format"] == "wav"
        assert hello["recording"] is False  # recordings are off by default
        assert hello["vad"] == {
            "positive_speech_threshold": 0.5, "negative_speech_threshold": 0.35,
            "redemption_ms": 500, "pre_speech_pad_ms": 300, "min_speech_ms": 80,
        }  # fmt: skip
        await client.say(wav(0.8))
        assert (await client.expect("user_transcript")).message["text"] == "what time is it"
        started = (await client.expect("agent_response_started")).message["response_id"]
        done = (await client.expect("agent_response_done")).message
        assert done == {"event": "agent_response_done", "response_id": started,
                        "status": "completed"}  # fmt: skip
        audio = client.of("play_audio")
        assert {m["response_id"] for m in audio} == {started}
        assert sum(m["duration"] for m in audio) == pytest.approx(4 * 0.25)  # four words
        assert audio[0]["offset"] == 0 and audio[0]["sample_rate"] == 16000
        assert_gapless(audio)
        final = [m for m in client.of("agent_transcript") if m["final"]]
        assert [m["text"] for m in final] == ["It is noon now."]
        metrics = (await client.expect("turn_metrics")).message
        assert metrics["user_text"] == "what time is it"
        assert 0 < metrics["voice_to_voice_ms"] < 1000
        assert metrics["stages_ms"]["first_audio_out"] == metrics["voice_to_voice_ms"]

        await client.send({"type": "hangup"})
        assert (await client.expect("session_ended")).message["reason"] == "caller hung up"
        assert await client.next() is None
        assert client.ws.close_code == 1000
        await site.wait_for_no_sessions()


@pytest.mark.parametrize("container", ["webm", "ogg"])
async def test_opus_utterances_from_media_recorder_are_decoded(container: str) -> None:
    providers = fake_providers(["hello there"], ["Hi."])
    assert isinstance(providers.stt, FakeSTT)
    async with parley_site(providers) as site, site.client() as client:
        await client.expect("connected")
        await client.say(opus(1.5, container))
        assert (await client.expect("user_transcript")).message["text"] == "hello there"
        await client.expect("agent_response_done")
        # The STT got the utterance's 1.5 s, decoded and resampled to 16 kHz.
        assert abs(providers.stt.samples_received - 24000) < 16000 * 0.03
        assert "error" not in client.events()


async def test_streaming_mode_runs_the_server_vad_at_the_declared_rate() -> None:
    providers = fake_providers(["is anyone there"], ["Yes, I am here."])
    assert isinstance(providers.stt, FakeSTT)
    async with parley_site(providers) as site, site.client() as client:
        await client.expect("connected")
        await client.send({"type": "start_stream", "sample_rate": 48000})
        speech = tone(1.0, 48000).pcm + bytes(2 * 48000)  # 1 s of sound, 1 s of silence
        step = 960 * 2  # 20 ms at 48 kHz
        for start in range(0, len(speech), step):
            await client.send(speech[start : start + step])
            await asyncio.sleep(0.01)  # twice real time: the VAD counts samples, not seconds
        assert (await client.expect("user_speech_started")).message == {
            "event": "user_speech_started"
        }
        assert (await client.expect("user_transcript")).message["text"] == "is anyone there"
        await client.expect("agent_response_done")
        assert_gapless(client.of("play_audio"))
        # The streamed audio reached the STT at its 16 kHz, all but the resampler's delay.
        assert abs(providers.stt.samples_received - 2 * 16000) <= 16000 * 0.02
        assert "error" not in client.events()


async def test_closing_the_socket_ends_the_session() -> None:
    async with parley_site(fake_providers()) as site:
        async with site.client() as client:
            await client.expect("connected")
            assert len(site.state.sessions) == 1
        assert await site.wait_for_no_sessions() < 3.0


async def test_two_pages_get_two_sessions() -> None:
    providers = fake_providers(["first", "second"], ["One.", "Two."])
    async with parley_site(providers) as site, site.client() as one, site.client() as two:
        ids = {(await c.expect("connected")).message["session_id"] for c in (one, two)}
        assert len(ids) == 2 and len(site.state.sessions) == 2
        await one.say(wav())
        await one.expect("agent_response_done")
        await two.say(wav())
        await two.expect("agent_response_done")
        assert [m["text"] for m in one.of("user_transcript")] == ["first"]
        assert [m["text"] for m in two.of("user_transcript")] == ["second"]


async def test_connected_says_when_the_call_is_recorded() -> None:
    providers = fake_providers(["hello"], ["Hi."])
    async with (
        parley_site(providers, records={"recordings": True}) as site,
        site.client() as client,
    ):
        assert (await client.expect("connected")).message["recording"] is True
