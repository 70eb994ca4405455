"""Interrupting with response.cancel and conversation.item.truncate, as Realtime clients do:
the history must say what the client played (invariant 4), whatever parley's own estimate.

The reply is 16 fake words of 250 ms each (4 s of audio), so the words heard by any point
are known exactly: word i starts at i * 250 ms, and a word counts once it began playing.
"""

from __future__ import annotations

import asyncio
import base64
import math
from typing import Any

from parley.audio.frames import AudioFrame
from parley.testing.fakes import FakeLLM
from tests.conftest import Measure

from .harness import (
    Received,
    Site,
    chunks,
    fake_providers,
    realtime_server,
    receiving,
    speech,
)

LONG = " ".join(f"w{i}" for i in range(16)) + "."
PLAYED_MS = 850  # the client's playhead: words w0-w3 began (0, 250, 500, 750 ms)


def heard_ms(got: Received, item_id: str) -> float:
    """Audio the client received for an item so far (24 kHz pcm16: 48 bytes a ms)."""
    deltas = [e for e in got.of("response.output_audio.delta") if e["item_id"] == item_id]
    return sum(len(base64.b64decode(d["delta"])) for d in deltas) / 48


async def ask_for_a_story(site: Site, conn: Any, got: Received) -> dict[str, Any]:
    await conn.conversation.item.create(
        item={"type": "message", "role": "user",
              "content": [{"type": "input_text", "text": "tell me a story"}]}
    )  # fmt: skip
    await conn.response.create()
    return await got.next("response.output_item.added")


async def until_received(got: Received, item_id: str, ms: float) -> None:
    while heard_ms(got, item_id) < ms:
        await got.next("response.output_audio.delta", after=got.mark())


async def test_cancel_then_truncate_leaves_what_the_client_played() -> None:
    async with (
        realtime_server(fake_providers([], [LONG])) as site,
        site.client().realtime.connect(model="m") as conn,
        receiving(conn) as got,
    ):
        created = await got.next("session.created")
        added = await ask_for_a_story(site, conn, got)
        item_id = added["item"]["id"]
        await until_received(got, item_id, 1300)
        await conn.response.cancel()
        done = await got.next("response.done")
        deltas_at_done = len(got.of("response.output_audio.delta"))
        await conn.conversation.item.truncate(
            item_id=item_id, content_index=0, audio_end_ms=PLAYED_MS
        )
        truncated = await got.next("conversation.item.truncated")
        session = site.session(created["session"]["id"])
        history = list(session.conversation.history)
        received = heard_ms(got, item_id)

    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"]["reason"] == "client_cancelled"
    # parley's own estimate at the cancel: what it had paced out, less its lookahead
    told = done["response"]["output"][0]["content"][0]["transcript"].split()
    assert 5 <= len(told) <= 7, told
    assert truncated["item_id"] == item_id and truncated["audio_end_ms"] == PLAYED_MS
    assert history[-1].role == "assistant" and history[-1].interrupted
    assert history[-1].content == "w0 w1 w2 w3"  # the client's word is final
    assert len(got.of("response.output_audio.delta")) == deltas_at_done  # nothing after done
    assert 1300 <= received <= 1500  # paced: the cancel found at most the lookahead unsent


async def test_truncate_alone_stops_the_response_at_the_client_playhead() -> None:
    providers = fake_providers([], [LONG, "Sure."])
    async with (
        realtime_server(providers) as site,
        site.client().realtime.connect(model="m") as conn,
        receiving(conn) as got,
    ):
        created = await got.next("session.created")
        item_id = (await ask_for_a_story(site, conn, got))["item"]["id"]
        await until_received(got, item_id, 1300)
        await conn.conversation.item.truncate(
            item_id=item_id, content_index=0, audio_end_ms=PLAYED_MS
        )
        done = await got.next("response.done")
        history = list(site.session(created["session"]["id"]).conversation.history)
        # the conversation goes on from what was heard
        mark = got.mark()
        await conn.response.create()
        second = await got.next("response.done", after=mark)

    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"]["reason"] == "client_cancelled"
    assert done["response"]["output"][0]["content"][0]["transcript"] == "w0 w1 w2 w3"
    assert [(m.role, m.content) for m in history[1:]] == [
        ("user", "tell me a story"), ("assistant", "w0 w1 w2 w3"),
    ]  # fmt: skip
    assert second["response"]["status"] == "completed"
    assert isinstance(providers.llm, FakeLLM)
    calls = providers.llm.calls
    assert calls[1][-1].content == "w0 w1 w2 w3" and calls[1][-1].interrupted


async def test_truncating_past_the_audio_sent_is_refused() -> None:
    async with (
        realtime_server(fake_providers([], ["One two."])) as site,
        site.client().realtime.connect(model="m") as conn,
        receiving(conn) as got,
    ):
        item_id = (await ask_for_a_story(site, conn, got))["item"]["id"]
        await got.next("response.done")
        await conn.conversation.item.truncate(
            item_id=item_id, content_index=0, audio_end_ms=5000, event_id="evt_cut"
        )
        error = (await got.next("error"))["error"]
        mark = got.mark()
        await conn.conversation.item.truncate(item_id="item_nope", content_index=0, audio_end_ms=0)
        unknown = (await got.next("error", after=mark))["error"]

    assert error["code"] == "invalid_value" and error["param"] == "audio_end_ms"
    assert error["message"] == "Audio content of 500ms is already shorter than 5000ms"
    assert error["event_id"] == "evt_cut"
    assert unknown["param"] == "item_id"


async def test_speech_over_the_agent_stops_its_audio_and_is_answered(measured: Measure) -> None:
    said = "wait stop tell me about the weather instead"
    providers = fake_providers([said], [LONG, "It is sunny."])
    async with (
        realtime_server(providers) as site,
        site.client().realtime.connect(model="m") as conn,
        receiving(conn) as got,
    ):
        created = await got.next("session.created")
        story = (await ask_for_a_story(site, conn, got))["item"]["id"]
        await until_received(got, story, 1000)
        for chunk in chunks(speech("interrupt_wait")) + chunks(AudioFrame.silence(1.0, 24000)):
            await conn.input_audio_buffer.append(audio=chunk)
            await asyncio.sleep(0.1)  # a microphone's pace
        interrupted = await got.next("response.done")
        answered = await got.next("response.done", lambda e: e != interrupted)
        history = [(m.role, m.content, m.interrupted) for m in
                   site.session(created["session"]["id"]).conversation.history]  # fmt: skip

    started_at, started = next((t, e) for t, e in got.log
                               if e["type"] == "input_audio_buffer.speech_started")  # fmt: skip
    late = [t for t, e in got.log
            if e["type"] == "response.output_audio.delta" and e["item_id"] == story
            and t >= started_at]  # fmt: skip
    assert late == []  # the clear dropped the queued audio before speech_started went out
    old = [t for t, e in got.log if e["type"] == "response.output_audio.delta"
           and e["item_id"] == story]  # fmt: skip
    gap_ms = (started_at - max(old)) * 1000
    measured("barge-in: last old audio delta before speech_started", gap_ms, "ms")
    measured("barge-in: old audio deltas after speech_started", len(late), "deltas")
    assert interrupted["response"]["status"] == "cancelled"
    assert interrupted["response"]["status_details"]["reason"] == "turn_detected"
    heard = interrupted["response"]["output"][0]["content"][0]["transcript"]
    heard_s = heard_ms(got, story) / 1000
    # The clip is voiced from 240 ms; the VAD decides 80 ms later: ~1.32 s of agent audio
    # had been sent by then, the last <= 100 ms of it (the lookahead) not yet played.
    assert 1.25 <= heard_s <= 1.45, heard_s
    words = len(heard.split())
    assert math.ceil((heard_s - 0.1) / 0.25) <= words <= math.ceil(heard_s / 0.25), heard
    assert answered["response"]["status"] == "completed"
    assert history[1:] == [
        ("user", "tell me a story", False), ("assistant", heard, True),
        ("user", said, False), ("assistant", "It is sunny.", False),
    ]  # fmt: skip
    # Onset at 240 ms, less 300 ms of prefix padding: the item's audio starts at the first.
    assert started["audio_start_ms"] == 0
