"""The official `openai` client (GA) talking to `WS /v1/realtime`, base URL changed only.

Providers are the fakes (a loudness VAD that works on real speech, scripted STT and LLM, a
16 kHz TTS that the pipeline resamples to 24 kHz), so each test runs in real time in a few
seconds.
"""

from __future__ import annotations

import asyncio

from openai import AsyncOpenAI
from openai.types.realtime import AudioTranscriptionParam

from parley.audio.frames import AudioFrame
from tests.conftest import Measure

from .harness import (
    API_KEY,
    audio_of,
    b64,
    chunks,
    fake_providers,
    realtime_server,
    receiving,
    samples,
    speech,
)

QUESTION = "what time is it in tokyo right now"
REPLY = "It is nine in the evening in Tokyo."  # 8 words of 250 ms: 2 s of audio
TRANSCRIBE: AudioTranscriptionParam = {"model": "gpt-4o-transcribe"}


async def test_a_spoken_question_gets_a_spoken_answer_with_transcript(measured: Measure) -> None:
    async with realtime_server(fake_providers([QUESTION], [REPLY])) as site:
        client = AsyncOpenAI(api_key=API_KEY, base_url=site.base_url)  # nothing else changed
        async with (
            client.realtime.connect(model="gpt-realtime") as conn,
            receiving(conn) as got,
        ):
            created = await got.next("session.created")
            assert created["session"]["audio"]["output"]["format"] == {
                "type": "audio/pcm", "rate": 24000,
            }  # fmt: skip
            await conn.session.update(
                session={"type": "realtime", "instructions": "Be brief.",
                         "audio": {"input": {"transcription": TRANSCRIBE}}}
            )  # fmt: skip
            updated = await got.next("session.updated")
            assert updated["session"]["instructions"] == "Be brief."
            question = speech("question_time")  # 3.09 s
            for chunk in chunks(question) + chunks(AudioFrame.silence(1.0, 24000)):
                await conn.input_audio_buffer.append(audio=chunk)  # faster than real time
            done = await got.next("response.done")
            session = site.session(created["session"]["id"])
            history = [(m.role, m.content) for m in session.conversation.history]

        started = got.of("input_audio_buffer.speech_started")[0]
        stopped = got.of("input_audio_buffer.speech_stopped")[0]
        # The clip is voiced (above the loudness VAD's -40 dBFS) from 640 ms to 2580 ms. As
        # OpenAI's server does, audio_start_ms includes the prefix padding (300 ms) and
        # audio_end_ms the silence that ended the speech (500 ms).
        assert abs(started["audio_start_ms"] - (640 - 300)) <= 40, started
        assert abs(stopped["audio_end_ms"] - (2580 + 500)) <= 40, stopped
        committed = got.of("input_audio_buffer.committed")[0]
        assert started["item_id"] == stopped["item_id"] == committed["item_id"]
        transcribed = got.of("conversation.item.input_audio_transcription.completed")[0]
        assert transcribed["item_id"] == committed["item_id"]
        assert transcribed["transcript"] == QUESTION

        response_id = done["response"]["id"]
        assert done["response"]["status"] == "completed"
        [item] = done["response"]["output"]
        assert item["role"] == "assistant" and item["content"][0]["transcript"] == REPLY
        deltas = got.of("response.output_audio_transcript.delta")
        assert "".join(d["delta"] for d in deltas) == REPLY
        audio = got.of("response.output_audio.delta")
        assert {d["response_id"] for d in audio} == {response_id}
        assert {d["item_id"] for d in audio} == {item["id"]}
        seconds = len(samples(audio_of(audio))) / 24000
        assert abs(seconds - 2.0) < 0.03, seconds  # 8 words of 250 ms, at 24 kHz
        times = [t for t, e in got.log if e["type"] == "response.output_audio.delta"]
        assert times[-1] - times[0] > 1.6  # paced in real time, not dumped at once
        stopped_at = next(t for t, e in got.log if e is stopped)
        # fakes: STT final 100 ms, merge gap 200 ms, LLM first token 100 ms, TTS 50 ms
        measured("fakes: speech_stopped to first audio delta", (times[0] - stopped_at) * 1000,
                 "ms")  # fmt: skip
        assert 0.35 <= times[0] - stopped_at <= 1.0  # the fakes alone take 350 ms

        lifecycle = [
            "response.created", "response.output_item.added", "conversation.item.added",
            "response.content_part.added", "response.output_audio.done",
            "response.output_audio_transcript.done", "response.content_part.done",
            "response.output_item.done", "conversation.item.done", "response.done",
        ]  # fmt: skip
        order = [t for t in got.types() if t in lifecycle]
        assert order[-len(lifecycle) :] == lifecycle
        assert history == [("system", "Be brief."), ("user", QUESTION), ("assistant", REPLY)]


async def test_manual_turns_are_answered_only_when_asked() -> None:
    async with realtime_server(fake_providers([QUESTION], [REPLY])) as site:
        async with (
            site.client().realtime.connect(model="gpt-realtime") as conn,
            receiving(conn) as got,
        ):
            await conn.session.update(
                session={"type": "realtime", "audio": {"input": {
                    "turn_detection": None, "transcription": TRANSCRIBE}}}
            )  # fmt: skip
            updated = await got.next("session.updated")
            assert updated["session"]["audio"]["input"]["turn_detection"] is None
            await conn.input_audio_buffer.append(audio=b64(bytes(2400)))  # 50 ms
            await conn.input_audio_buffer.commit()
            empty = await got.next("error")
            assert empty["error"]["code"] == "input_audio_buffer_commit_empty"
            await conn.input_audio_buffer.clear()
            await got.next("input_audio_buffer.cleared")
            for chunk in chunks(speech("question_time")):
                await conn.input_audio_buffer.append(audio=chunk)
            await conn.input_audio_buffer.commit()
            committed = await got.next("input_audio_buffer.committed")
            transcribed = await got.next("conversation.item.input_audio_transcription.completed")
            await asyncio.sleep(1.0)
            unasked = got.of("response.created")
            asked_at = got.mark()
            await conn.response.create()
            done = await got.next("response.done", after=asked_at)

        assert unasked == []
        assert got.of("input_audio_buffer.speech_started") == []  # the client cut the turn
        assert transcribed["item_id"] == committed["item_id"]
        assert transcribed["transcript"] == QUESTION
        assert abs(transcribed["usage"]["seconds"] - 3.089) < 0.01
        assert done["response"]["status"] == "completed"
        assert done["response"]["output"][0]["content"][0]["transcript"] == REPLY
