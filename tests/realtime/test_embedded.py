"""The official client (GA) against the embedded stack (Silero, Whisper, llama.cpp, Piper):
real speech streamed in at real-time pace gets a spoken answer with its transcript, offline.
Slow (real models, real time): about half a minute.
"""

from __future__ import annotations

import asyncio
import base64

import pytest

from parley.audio.frames import AudioFrame, rms_dbfs
from parley.session.config import Providers
from tests.conftest import Measure

from .harness import chunks, realtime_server, receiving, speech

pytestmark = pytest.mark.slow


async def test_a_spoken_question_with_the_embedded_stack(
    embedded: Providers, measured: Measure
) -> None:
    async with (
        realtime_server(embedded, vad="silero", stt="whisper", llm="llama", tts="piper") as site,
        site.client().realtime.connect(model="m") as conn,
        receiving(conn) as got,
    ):
        await conn.session.update(
            session={"type": "realtime", "audio": {"input": {
                "transcription": {"model": "whisper-1"}}}}
        )  # fmt: skip
        await got.next("session.updated")
        question = speech("question_time")
        for chunk in chunks(question) + chunks(AudioFrame.silence(1.0, 24000)):
            await conn.input_audio_buffer.append(audio=chunk)
            await asyncio.sleep(0.1)  # a microphone's pace
        done = await got.next("response.done", limit=90)

    [heard] = got.of("conversation.item.input_audio_transcription.completed")
    assert "tokyo" in heard["transcript"].lower(), heard
    assert done["response"]["status"] == "completed"
    said = done["response"]["output"][0]["content"][0]["transcript"]
    assert len(said.split()) >= 2, said
    deltas = "".join(d["delta"] for d in got.of("response.output_audio_transcript.delta"))
    assert deltas == said
    pcm = b"".join(base64.b64decode(d["delta"]) for d in got.of("response.output_audio.delta"))
    audio = AudioFrame(pcm, 24000)
    assert audio.duration > 0.5 and rms_dbfs(audio) > -40  # speech, not silence
    stopped_at = next(t for t, e in got.log if e["type"] == "input_audio_buffer.speech_stopped")
    first_audio = next(t for t, e in got.log if e["type"] == "response.output_audio.delta")
    measured("embedded: speech_stopped to first audio delta", (first_audio - stopped_at) * 1000,
             "ms")  # fmt: skip
    measured("embedded: answer length", round(audio.duration, 2), "s")
    assert first_audio - stopped_at < 10.0
