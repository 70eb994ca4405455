"""The beta dialect (`OpenAI-Beta: realtime=v1`, flat session fields, beta event names) with
the SDK's beta client, and the G.711 formats both ways in each dialect."""

from __future__ import annotations

import base64

import numpy as np

from parley.audio.codecs import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw
from parley.audio.frames import AudioFrame, rms_dbfs

from .harness import fake_providers, realtime_server, receiving, speech

QUESTION = "what time is it in tokyo right now"
REPLY = "It is nine in the evening in Tokyo."  # 8 words of 250 ms: 2 s of audio


def g711_chunks(audio: AudioFrame, encode: object, seconds: float = 0.02) -> list[str]:
    assert callable(encode)
    step = round(seconds * 8000) * 2
    coded = [encode(audio.pcm[i : i + step]) for i in range(0, len(audio.pcm), step)]
    return [base64.b64encode(c).decode("ascii") for c in coded]


async def test_a_beta_client_talks_in_mu_law_with_flat_fields() -> None:
    async with realtime_server(fake_providers([QUESTION], [REPLY])) as site:
        connect = site.client().beta.realtime.connect(model="gpt-4o-realtime-preview")
        async with connect as conn, receiving(conn, beta=True) as got:
            created = await got.next("session.created")
            assert created["session"]["input_audio_format"] == "pcm16"
            await conn.session.update(session={"audio": {"output": {"voice": "marin"}}})  # type: ignore[typeddict-unknown-key]
            wrong_dialect = (await got.next("error"))["error"]
            await conn.session.update(
                session={
                    "instructions": "Be brief.",
                    "input_audio_format": "g711_ulaw",
                    "output_audio_format": "g711_ulaw",
                    "turn_detection": {"type": "server_vad", "silence_duration_ms": 400},
                    "input_audio_transcription": {"model": "whisper-1"},
                    "modalities": ["audio", "text"],
                    "voice": "verse",
                    "temperature": 0.7,
                }
            )
            updated = (await got.next("session.updated"))["session"]
            question = speech("question_time", 8000)
            for chunk in g711_chunks(question, pcm16_to_ulaw):  # 20 ms chunks, as phones send
                await conn.input_audio_buffer.append(audio=chunk)
            silence = AudioFrame.silence(1.0, 8000)
            for chunk in g711_chunks(silence, pcm16_to_ulaw, seconds=0.5):
                await conn.input_audio_buffer.append(audio=chunk)
            done = await got.next("response.done")

    assert wrong_dialect["code"] == "unknown_parameter"
    assert wrong_dialect["param"] == "session.audio"
    assert updated["turn_detection"] == {
        "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
        "silence_duration_ms": 400, "create_response": True, "interrupt_response": True,
        "idle_timeout_ms": None,
    }  # fmt: skip
    assert (updated["input_audio_format"], updated["output_audio_format"]) == ("g711_ulaw",) * 2
    assert updated["voice"] == "verse"
    types = set(got.types())
    assert {"response.audio.delta", "response.audio_transcript.delta",
            "conversation.item.created"} <= types  # fmt: skip
    assert not types & {"response.output_audio.delta", "conversation.item.added"}
    transcribed = got.of("conversation.item.input_audio_transcription.completed")
    assert [t["transcript"] for t in transcribed] == [QUESTION]
    deltas = [base64.b64decode(d["delta"]) for d in got.of("response.audio.delta")]
    assert {len(d) for d in deltas[:-1]} == {160}  # 20 ms of mu-law at 8 kHz
    assert abs(sum(len(d) for d in deltas) / 8000 - 2.0) < 0.03
    assert done["response"]["status"] == "completed"
    assert done["response"]["output_audio_format"] == "g711_ulaw"
    assert done["response"]["output"][0]["content"][0] == {"type": "audio", "transcript": REPLY}


async def test_a_beta_client_cancels_and_truncates() -> None:
    story = " ".join(f"w{i}" for i in range(16)) + "."
    async with realtime_server(fake_providers([], [story])) as site:
        connect = site.client().beta.realtime.connect(model="gpt-4o-realtime-preview")
        async with connect as conn, receiving(conn, beta=True) as got:
            created = await got.next("session.created")
            await conn.conversation.item.create(
                item={"type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": "a story please"}]}
            )  # fmt: skip
            user_item = await got.next("conversation.item.created")
            await conn.response.create()
            added = await got.next("response.output_item.added")
            while len(got.of("response.audio.delta")) < 50:  # 1 s of audio received
                await got.next("response.audio.delta", after=got.mark())
            await conn.response.cancel()
            done = await got.next("response.done")
            await conn.conversation.item.truncate(
                item_id=added["item"]["id"], content_index=0, audio_end_ms=600
            )
            await got.next("conversation.item.truncated")
            history = site.session(created["session"]["id"]).conversation.history

    assert user_item["item"]["content"] == [{"type": "input_text", "text": "a story please"}]
    assert done["response"]["status"] == "cancelled"
    assert history[-1].content == "w0 w1 w2" and history[-1].interrupted


async def test_a_ga_client_talks_in_a_law() -> None:
    async with (
        realtime_server(fake_providers([QUESTION], [REPLY])) as site,
        site.client().realtime.connect(model="m") as conn,
        receiving(conn) as got,
    ):
        await conn.session.update(
            session={"type": "realtime", "audio": {
                "input": {"format": {"type": "audio/pcma"}},
                "output": {"format": {"type": "audio/pcma"}}}}
        )  # fmt: skip
        updated = (await got.next("session.updated"))["session"]
        question = speech("question_time", 8000)
        silence = AudioFrame.silence(1.0, 8000)
        for chunk in g711_chunks(question, pcm16_to_alaw, 0.1):
            await conn.input_audio_buffer.append(audio=chunk)
        for chunk in g711_chunks(silence, pcm16_to_alaw, 0.1):
            await conn.input_audio_buffer.append(audio=chunk)
        done = await got.next("response.done")

    assert updated["audio"]["output"]["format"] == {"type": "audio/pcma"}
    deltas = [base64.b64decode(d["delta"]) for d in got.of("response.output_audio.delta")]
    assert {len(d) for d in deltas[:-1]} == {160}
    pcm = alaw_to_pcm16(b"".join(deltas))
    assert abs(len(pcm) / 2 / 8000 - 2.0) < 0.03
    # the fake TTS's counting samples are loud: A-law decoding must give them back loud
    assert rms_dbfs(AudioFrame(pcm, 8000)) > -20
    assert np.count_nonzero(np.frombuffer(pcm, "<i2")) > 0.9 * len(pcm) / 2
    assert done["response"]["audio"]["output"]["format"] == {"type": "audio/pcma"}
