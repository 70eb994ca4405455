"""A call over each transport (browser /ws, Twilio, the Realtime API) leaves its record: the
call with its transport facts, each turn with its texts and timings, and how it ended."""

from __future__ import annotations

import asyncio
from pathlib import Path

from openai import AsyncOpenAI

from parley.audio.frames import AudioFrame
from parley.records.store import CallDetail, Store
from parley.testing.twilio_caller.fake_caller import (
    HangUp,
    Pause,
    Speak,
    WaitFor,
    agent_finished,
    agent_heard,
)
from tests.browser import harness as browser
from tests.realtime import harness as realtime
from tests.twilio import harness as twilio

from .postgres import PostgresServer


async def only_call(folder: Path) -> CallDetail:
    """The one call recorded in `folder` (the server has stopped: its writes are done)."""
    store = Store(f"sqlite+aiosqlite:///{folder / 'parley.db'}")
    try:
        [listing] = await store.list_calls(limit=10)
        detail = await store.get_call(listing.call.id)
        assert detail is not None
        return detail
    finally:
        await store.aclose()


def check_turn(detail: CallDetail, user: str, agent: str) -> None:
    [turn] = detail.turns
    assert (turn.index, turn.status) == (0, "completed")
    assert turn.user_text == user and turn.agent_text == agent and turn.heard_text == agent
    assert turn.committed is not None and turn.first_audio_out is not None
    assert turn.ended is not None
    assert 0 < turn.committed < turn.first_audio_out < turn.ended
    call = detail.listing.call
    assert call.ended_at is not None and call.started_at < call.ended_at
    assert (call.ended_at - call.started_at).total_seconds() > turn.ended


async def test_a_twilio_call_is_recorded(tmp_path: Path) -> None:
    reply = "It is nine in the evening in Tokyo."
    providers = twilio.fake_providers(["what time is it in tokyo right now"], [reply])
    async with twilio.parley_server(providers, records={"data_dir": str(tmp_path)}) as site:
        caller = site.caller([
            Pause(0.3),
            Speak(twilio.speech("question_time"), "question"),
            WaitFor(agent_finished(0.5), what="the answer"),
            HangUp(),
        ])  # fmt: skip
        await asyncio.wait_for(caller.run(), 20)
    detail = await only_call(tmp_path)
    call = detail.listing.call
    assert call.transport == "twilio" and call.twilio_call_sid == caller.call_sid
    assert call.providers == {"vad": "energy", "stt": "fake", "llm": "fake", "tts": "fake"}
    assert call.policy["min_silence_ms"] == 500 and call.recording is False
    assert call.end_reason == "Twilio stopped the stream"
    check_turn(detail, "what time is it in tokyo right now", reply)
    turn = detail.turns[0]
    assert turn.speech_started is not None and turn.speech_ended is not None
    assert turn.speech_started < turn.speech_ended < turn.committed  # type: ignore[operator]


async def test_a_browser_call_is_recorded(tmp_path: Path) -> None:
    providers = browser.fake_providers(["what time is it"], ["It is noon now."])
    async with (
        browser.parley_site(providers, records={"data_dir": str(tmp_path)}) as site,
        site.client() as client,
    ):
        await client.expect("connected")
        await client.say(browser.wav(0.8))
        await client.expect("turn_metrics")
        await client.send({"type": "hangup"})
        await client.expect("session_ended")
        await site.wait_for_no_sessions()
    detail = await only_call(tmp_path)
    assert detail.listing.call.transport == "browser"
    assert detail.listing.call.twilio_call_sid is None
    assert detail.listing.call.end_reason == "caller hung up"
    check_turn(detail, "what time is it", "It is noon now.")


async def test_a_realtime_call_is_recorded(tmp_path: Path) -> None:
    question, reply = "what time is it in tokyo right now", "It is nine in the evening."
    providers = realtime.fake_providers([question], [reply])
    async with realtime.realtime_server(providers, records={"data_dir": str(tmp_path)}) as site:
        client = AsyncOpenAI(api_key=realtime.API_KEY, base_url=site.base_url)
        async with (
            client.realtime.connect(model="gpt-realtime") as conn,
            realtime.receiving(conn) as got,
        ):
            await got.next("session.created")
            audio = realtime.speech("question_time")
            for chunk in realtime.chunks(audio) + realtime.chunks(AudioFrame.silence(1.0, 24000)):
                await conn.input_audio_buffer.append(audio=chunk)
            await got.next("response.done")
    detail = await only_call(tmp_path)
    assert detail.listing.call.transport == "realtime"
    check_turn(detail, question, reply)


async def test_an_interrupted_answer_keeps_what_was_heard(tmp_path: Path) -> None:
    story = " ".join(f"word{i}" for i in range(24)) + "."  # 6 s of speech
    heard = ["tell me a story about a lighthouse", "wait stop tell me about the weather"]
    providers = twilio.fake_providers(heard, [story, "It is sunny."])
    async with twilio.parley_server(providers, records={"data_dir": str(tmp_path)}) as site:
        caller = site.caller([
            Pause(0.3),
            Speak(twilio.speech("question_story"), "question"),
            WaitFor(agent_heard(1.5), what="the story"),
            Speak(twilio.speech("interrupt_wait"), "barge-in"),
            WaitFor(agent_finished(0.5), what="the second answer"),
            HangUp(),
        ], echo_marks_on_clear=True)  # fmt: skip
        await asyncio.wait_for(caller.run(), 30)
    detail = await only_call(tmp_path)
    first, second = detail.turns
    assert (first.status, second.status) == ("interrupted", "completed")
    assert first.agent_text == story
    assert story.startswith(first.heard_text) and 0 < len(first.heard_text) < len(story)
    assert first.interruption_decided is not None and first.output_stopped is not None
    assert second.user_text == heard[1] and second.heard_text == "It is sunny."


async def test_a_call_is_recorded_in_postgresql(postgres: PostgresServer) -> None:
    url = postgres.create_database("parley_transport_call")
    providers = twilio.fake_providers(["what time is it"], ["It is noon."])
    async with twilio.parley_server(providers, records={"database_url": url}) as site:
        caller = site.caller([
            Pause(0.3),
            Speak(twilio.speech("question_time"), "question"),
            WaitFor(agent_finished(0.5), what="the answer"),
            HangUp(),
        ])  # fmt: skip
        await asyncio.wait_for(caller.run(), 20)
    store = Store(url)
    try:
        [listing] = await store.list_calls(limit=10)
        detail = await store.get_call(listing.call.id)
    finally:
        await store.aclose()
    assert detail is not None and detail.listing.call.twilio_call_sid == caller.call_sid
    check_turn(detail, "what time is it", "It is noon.")
