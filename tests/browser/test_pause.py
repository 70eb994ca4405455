"""Pause, then decide (invariant 5) over the browser protocol, with a page that plays and
reports like the real one: stop_playback at once, exact resume, real words interrupt."""

from __future__ import annotations

import asyncio
import contextlib
import time
from base64 import b64encode
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pytest

from parley.audio.frames import AudioFrame
from parley.testing.fakes import FakeLLM
from parley.transports.browser.audio import wav_bytes
from tests.scenario.harness import contiguous

from .harness import Client, fake_providers, parley_site, pcm_of, wav

pytestmark = pytest.mark.asyncio
REPLY = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen."
RATE = 16000
WORD = 0.25


@dataclass
class PagePlayer:
    """The page's playback worklet in miniature: plays queued audio in real time at `speed`,
    skips audio it already played when the server resends after a pause, drops its queue on
    stop_playback, and reports its position every 20 ms."""

    client: Client
    speed: float = 1.0
    position: int = 0  # samples of the response played
    queue: list[np.ndarray] = field(default_factory=list)
    queued_end: int = 0
    heard: list[np.ndarray] = field(default_factory=list)
    resumed_offsets: list[float] = field(default_factory=list)
    stopped_at: list[float] = field(default_factory=list)  # positions (s) when stopped
    paused: bool = False
    _last: float | None = None

    def take(self, message: dict[str, object]) -> None:
        match message["event"]:
            case "play_audio":
                self._enqueue(message)
            case "stop_playback":
                self._advance(time.monotonic())
                self.queue.clear()
                self.queued_end = self.position
                self.stopped_at.append(self.position / RATE)
                self.paused = True

    def _enqueue(self, message: dict[str, object]) -> None:
        start = round(float(message["offset"]) * RATE)  # type: ignore[arg-type]
        samples = pcm_of(message)
        if self.paused:
            self.resumed_offsets.append(start / RATE)
            self.paused = False
        if start < self.queued_end:
            samples = samples[self.queued_end - start :]
        if samples.size:
            self.queue.append(samples)
            self.queued_end += samples.size

    def _advance(self, now: float) -> None:
        if self._last is None or not self.queue:
            self._last = now
            return
        due = round((now - self._last) * RATE * self.speed)
        self._last = now
        while due > 0 and self.queue:
            piece = self.queue[0][:due]
            self.heard.append(piece)
            self.position += piece.size
            due -= piece.size
            self.queue[0] = self.queue[0][piece.size :]
            if not self.queue[0].size:
                self.queue.pop(0)

    async def report(self) -> None:
        while True:
            self._advance(time.monotonic())
            if self.position:
                await self.client.send({"type": "playback_position", "response_id": "resp_1",
                                        "played_seconds": self.position / RATE})  # fmt: skip
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def page(client: Client, speed: float = 1.0) -> AsyncIterator[PagePlayer]:
    player = PagePlayer(client, speed)

    async def read() -> None:
        while (item := await client.next(60)) is not None:
            player.take(item.message)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(read()), group.create_task(player.report())]
        try:
            yield player
        finally:
            for task in tasks:
                task.cancel()


async def until(condition: Callable[[], bool], limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_a_backchannel_pauses_and_resumes_exactly(measured: Callable[..., None]) -> None:
    llm = FakeLLM([REPLY], first_token_latency=0.05, token_latency=0.005)
    providers = replace(fake_providers(["tell me something", "uh-huh"]), llm=llm)
    async with parley_site(providers) as site, site.client() as client, page(client) as player:
        await until(lambda: "connected" in client.events())
        await client.say(wav())
        await until(lambda: player.position > RATE)  # a second of the reply played
        sent = await client.send({"type": "speech_start"})
        await until(lambda: "stop_playback" in client.events())
        stop = next(r for r in client.received if r.event == "stop_playback")
        await client.send({"type": "speech_end", "audio": b64encode(wav(0.4)).decode()})
        await until(lambda: "playback_resume" in client.events())
        await until(lambda: "agent_response_done" in client.events())
        await until(lambda: not player.queue)

    # stop_playback came at once, and no audio between it and playback_resume.
    assert stop.at - sent < 0.1
    between = client.events("stop_playback", "play_audio", "playback_resume")
    first_stop = between.index("stop_playback")
    assert between[first_stop + 1] == "playback_resume"
    # The server resent from the last position the page reported before the pause (at most
    # one report, 20 ms, behind where it stopped); the page skipped what it had played.
    stopped, resumed = player.stopped_at[0], player.resumed_offsets[0]
    assert stopped - 0.05 <= resumed <= stopped
    heard = np.concatenate(player.heard)
    assert heard.size == 14 * WORD * RATE  # every sample of the reply, once...
    assert contiguous(heard)  # ...in order
    done = client.of("agent_response_done")
    assert [d["status"] for d in done] == ["completed"]
    assert len(llm.calls) == 1
    measured("browser protocol: speech_start to stop_playback", (stop.at - sent) * 1000, "ms")
    measured("browser protocol: audio resent after a backchannel (skipped by the page)",
             (stopped - resumed) * 1000, "ms")  # fmt: skip


async def test_real_words_cancel_and_are_answered() -> None:
    llm = FakeLLM([REPLY, "Tomorrow is fine."], first_token_latency=0.05, token_latency=0.005)
    providers = replace(fake_providers(["tell me something", "what about tomorrow"]), llm=llm)
    async with parley_site(providers) as site, site.client() as client, page(client) as player:
        await until(lambda: "connected" in client.events())
        await client.say(wav())
        await until(lambda: player.position > 1.1 * RATE)
        await client.say(wav(0.6))
        await until(lambda: len(client.of("agent_response_done")) == 2)

    done = client.of("agent_response_done")
    assert [d["status"] for d in done] == ["interrupted", "completed"]
    heard_text = next(m["text"] for m in client.of("agent_transcript") if m["final"])
    # The history keeps what the page played: about 1.1 s, four or five 0.25 s words.
    assert REPLY.startswith(heard_text) and len(heard_text.split()) in (4, 5)
    assert llm.calls[1][-1].content == "what about tomorrow"
    assert llm.calls[1][-2].content == heard_text


async def test_what_was_heard_comes_from_the_page_reports() -> None:
    """A page that plays at half speed (it started late, say) has heard half of what the
    server sent; the cut history follows its reports, not the server's model."""
    providers = fake_providers(["tell me something", "stop"], [REPLY])
    async with parley_site(providers) as site, site.client() as client, page(client, 0.5) as player:
        await until(lambda: "connected" in client.events())
        await client.say(wav())
        await until(lambda: player.position >= 1.0 * RATE)  # 2 s after it started
        await client.say(wav(0.4))
        await until(lambda: len(client.of("agent_response_done")) == 1)

    heard_text = next(m["text"] for m in client.of("agent_transcript") if m["final"])
    assert heard_text.split() == REPLY.split()[: len(heard_text.split())]
    assert len(heard_text.split()) in (4, 5)  # 1 s of 0.25 s words, not the 2 s sent


async def test_a_vad_misfire_sends_an_empty_utterance_and_playback_resumes() -> None:
    """The page told the server speech began, then its VAD called it a misfire: it sends an
    empty WAV, which has no words, so the agent goes on."""
    providers = fake_providers(["tell me something", ""], [REPLY])
    empty = wav_bytes(AudioFrame(b"", 16000))
    async with parley_site(providers) as site, site.client() as client, page(client) as player:
        await until(lambda: "connected" in client.events())
        await client.say(wav())
        await until(lambda: player.position > 0.5 * RATE)
        await client.say(empty)
        await until(lambda: "playback_resume" in client.events())
        await until(lambda: "agent_response_done" in client.events())
    assert client.events("stop_playback", "playback_resume") == ["stop_playback", "playback_resume"]
    assert [d["status"] for d in client.of("agent_response_done")] == ["completed"]
    assert "error" not in client.events()
