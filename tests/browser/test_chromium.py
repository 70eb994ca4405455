"""The page in headless Chromium, used as a person would: it hears real speech through a
fake microphone (Piper's voice, composed into one WAV per launch), and what the agent says
is measured where it comes out, with an AnalyserNode after the playback worklet.

Times are the page's performance.now() clock. Onsets are measured in the page, on the
microphone's audio, and checked against where the WAV puts them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from parley.audio.frames import AudioFrame
from parley.session import Providers
from parley.testing.fakes import FakeLLM
from tests.conftest import Measure

from .chromium import (
    audible_at,
    chromium_page,
    compose,
    events,
    first_audible,
    probe,
    wait_for,
    wait_until_audible,
)
from .harness import parley_site

pytestmark = [pytest.mark.slow, pytest.mark.asyncio]
Speak = Callable[[str], AudioFrame]

QUESTION = "What is the capital city of France?"
FOLLOW_UP = "And what about Germany?"
INTERRUPTION = "Hold on, what time is it right now?"
# One long sentence without commas: Piper pauses under 0.1 s between its words from 2 s to
# 5.5 s into it, where the interruption lands, so "the agent was sounding" is unambiguous.
# Short sentences: Piper makes a segment whole before any of it plays, so one 45-word sentence
# after the short first piece left the page silent for seconds under a loaded full run, and
# the interruption then fell in that gap instead of over the agent's voice.
STORY = (
    "Once upon a time there was a quiet village by the sea. An old fisherman lived there "
    "with his cat. He went out every morning before the sun came up. He knew every rock and "
    "every wave in the bay. A grey gull followed his little boat wherever it went."
)
PAGE_OUTPUT = {"browser": {"output_sample_rate": 24000}}  # the default: what people get


@pytest.fixture(scope="module")
def voice(speak: Speak) -> dict[str, AudioFrame]:
    """Piper saying the person's lines, made before any test's event loop runs."""
    return {line: speak(line) for line in (QUESTION, FOLLOW_UP, INTERRUPTION)}


def scripted(embedded: Providers, *replies: str) -> Providers:
    """The real VAD, Whisper and Piper, with an LLM whose answers are known in advance."""
    llm = FakeLLM(list(replies), first_token_latency=0.1, token_latency=0.01)
    return Providers(embedded.vad, embedded.stt, llm, embedded.tts)


async def test_spoken_questions_are_answered_aloud(
    embedded: Providers, voice: dict[str, AudioFrame], tmp_path: Path, measured: Measure
) -> None:
    wav = tmp_path / "questions.wav"
    question, _ = compose(wav, [1.0, voice[QUESTION], 9.0, voice[FOLLOW_UP], 10.0])
    async with (
        parley_site(embedded, **PAGE_OUTPUT) as site,
        chromium_page(f"http://{site.host}/", wav) as page,
    ):
        await page.click("#talk")
        await wait_for(page, "p.events.some((e) => e.event === 'turn_metrics')", 40)
        await wait_until_audible(page, 10)
        await wait_for(page, "p.events.filter((e) => e.event === 'turn_metrics').length > 1"
                       " && p.starts.length > 1", 40)  # fmt: skip
        screenshot = os.environ.get("PARLEY_SCREENSHOT")  # the README's picture
        await page.screenshot(path=screenshot or str(tmp_path / "conversation.png"))
        record = await probe(page)
        assert await page.locator(".turn-latency").count() == 2
        assert await page.locator(".line.agent").count() == 2
        await page.click("#hangup")
        await site.wait_for_no_sessions()

    heard = [e["text"].lower() for e in events(record, "user_transcript") if e["final"]]
    assert "capital" in heard[0] and "france" in heard[0] and "germany" in heard[1]
    started = record["starts"][0]["t"]
    # The page heard the question end at its last offset before the agent spoke (a pause
    # inside the question would give an earlier one).
    spoken_until = max(t for t in record["offsets"] if t < started)
    onset = record["onsets"][0]
    assert abs((spoken_until - onset) / 1000 - (question.end - question.onset)) < 0.06
    audible = first_audible(record, started)
    assert audible is not None and audible - started < 100  # playing is audible at once
    page_v2v = audible - spoken_until
    metrics = events(record, "turn_metrics")[0]
    assert 0 < metrics["voice_to_voice_ms"] < page_v2v < 6000
    measured("page: voice-to-voice, end of speech to agent audible (embedded, page VAD)",
             page_v2v, "ms")  # fmt: skip
    measured("server: voice-to-voice, utterance in to first frame out (embedded, page VAD)",
             metrics["voice_to_voice_ms"], "ms")  # fmt: skip


async def test_speaking_over_the_agent_stops_its_audio(
    embedded: Providers, voice: dict[str, AudioFrame], tmp_path: Path, measured: Measure
) -> None:
    wav = tmp_path / "barge-in.wav"
    question, interruption = compose(wav, [1.0, voice[QUESTION], 4.5, voice[INTERRUPTION], 10.0])
    providers = scripted(embedded, STORY, "It is half past ten.")
    async with (
        parley_site(providers, **PAGE_OUTPUT) as site,
        chromium_page(f"http://{site.host}/", wav) as page,
    ):
        await page.click("#talk")
        await wait_for(page, "p.starts.some((s) => s.id === 'resp_2')", 40)
        await wait_until_audible(page, 10, response="resp_2")
        record = await probe(page)
        await page.click("#hangup")
        await site.wait_for_no_sessions()

    first = next(s["t"] for s in record["starts"] if s["id"] == "resp_1")
    second = next(s["t"] for s in record["starts"] if s["id"] == "resp_2")
    onset = next(t for t in record["onsets"] if t > first)  # the person starts talking
    # The page's clock agrees with the WAV about where the interruption begins.
    assert abs((onset - record["onsets"][0]) / 1000 - (interruption.onset - question.onset)) < 0.06
    # Mid-answer: sounding at the onset, or within the second before it (the onset may fall
    # in the pause between two of its sentences, which is still the agent speaking).
    assert audible_at(record, onset) or any(
        x["audible"] for x in record["transitions"] if onset - 1000 < x["t"] <= onset
    ), "the agent was speaking when the person began"
    silent = [x["t"] for x in record["transitions"] if not x["audible"] and onset < x["t"] < second]
    assert silent, "the agent's audio never stopped"
    stopped = silent[-1]  # from here on nothing of the first answer sounded again
    assert not any(x["audible"] for x in record["transitions"] if stopped < x["t"] < second)
    speech_start = next(t for t in record["speechStarts"] if t > onset)
    stop_message = next(e["t"] for e in events(record, "stop_playback") if e["t"] > onset)
    assert stopped - onset < 600
    done = events(record, "agent_response_done")
    assert [d["status"] for d in done[:1]] == ["interrupted"]
    said = [e["text"].lower() for e in events(record, "user_transcript") if e["final"]]
    assert "capital" in said[0] and "time" in " ".join(said[1:])
    measured("page: barge-in, speech onset to agent silent", stopped - onset, "ms")
    measured("page: barge-in, onset to page VAD speech start", speech_start - onset, "ms")
    measured("page: barge-in, speech start sent to stop_playback in", stop_message - speech_start,
             "ms")  # fmt: skip
    measured("page: barge-in, stop_playback to analyser silent", stopped - stop_message, "ms")


async def test_the_hangup_button_ends_the_session_on_the_server(
    embedded: Providers, voice: dict[str, AudioFrame], tmp_path: Path, measured: Measure
) -> None:
    wav = tmp_path / "hangup.wav"
    compose(wav, [1.0, voice[QUESTION], 12.0])
    async with (
        parley_site(scripted(embedded, STORY), **PAGE_OUTPUT) as site,
        chromium_page(f"http://{site.host}/", wav) as page,
    ):
        await page.click("#talk")
        await wait_until_audible(page, 40)
        await page.wait_for_timeout(800)
        assert len(site.state.sessions) == 1
        await wait_for(page, "p.transitions[p.transitions.length - 1].audible", 5)
        clicked = time.monotonic()  # the agent is sounding
        await page.click("#hangup")
        await site.wait_for_no_sessions(limit=3.0)
        closed_in = time.monotonic() - clicked
        await wait_for(page, "p.closed !== null", 5)
        # The page notes the close first, then shuts its audio down, then shows the status.
        shown = "document.querySelector('#status').textContent"
        await wait_for(page, f"{shown}.startsWith('Call ended') || {shown} === 'Disconnected'", 5)
        record = await probe(page)
        status = await page.text_content("#status")

    assert record["sessionEnded"]["reason"] == "caller hung up"
    assert status == "Call ended: caller hung up"
    hangup = record["hangupAt"]  # the button's handler ran
    assert audible_at(record, hangup)
    # Silent when the analyser says so, or at the latest when the page closed its audio.
    silent = [x["t"] for x in record["transitions"] if not x["audible"] and x["t"] > hangup]
    silent_at = min([*silent, record["closed"]])
    assert silent_at - hangup < 300
    assert record["sessionEnded"]["t"] - hangup < 1000
    measured("page: hangup click to agent silent", silent_at - hangup, "ms")
    measured("page: hangup click to session_ended from the server",
             record["sessionEnded"]["t"] - hangup, "ms")  # fmt: skip
    measured("server: session closed, at most after the click", closed_in * 1000, "ms")


async def test_streaming_mode_lets_the_server_vad_listen(
    embedded: Providers, voice: dict[str, AudioFrame], tmp_path: Path, measured: Measure
) -> None:
    wav = tmp_path / "stream.wav"
    compose(wav, [1.0, voice[QUESTION], 12.0])
    async with (
        parley_site(embedded, **PAGE_OUTPUT) as site,
        chromium_page(f"http://{site.host}/?mode=stream", wav) as page,
    ):
        await page.click("#talk")
        await wait_for(page, "p.events.some((e) => e.event === 'turn_metrics')", 40)
        await wait_until_audible(page, 10)
        record = await probe(page)
        await page.click("#hangup")
        await site.wait_for_no_sessions()

    assert record["speechStarts"] == [] and record["utterances"] == []  # no VAD in the page
    heard = [e["text"] for e in events(record, "user_transcript") if e["final"]]
    assert heard and "capital" in heard[0].lower()
    page_v2v = first_audible(record, record["starts"][0]["t"]) - record["offsets"][0]
    metrics = events(record, "turn_metrics")[0]
    assert 0 < metrics["voice_to_voice_ms"] < page_v2v < 6000
    measured("page: voice-to-voice (embedded, server VAD, streamed audio)", page_v2v, "ms")
    measured("server: voice-to-voice (embedded, server VAD, streamed audio)",
             metrics["voice_to_voice_ms"], "ms")  # fmt: skip
