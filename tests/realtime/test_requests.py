"""The less common requests: audio messages as items, per-response instructions and metadata,
a manual commit while server VAD hears speech, and turn detection without auto-response."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from openai.types.realtime import AudioTranscriptionParam

from parley.audio.frames import AudioFrame
from parley.session import Providers
from parley.testing.fakes import EnergyVAD, FakeLLM, FakeSTT, FakeTTS, Fault, FaultKind
from parley.types import ChatMessage

from .harness import b64, chunks, fake_providers, realtime_server, receiving, speech

QUESTION = "what time is it in tokyo right now"
TRANSCRIBE: AudioTranscriptionParam = {"model": "gpt-4o-transcribe"}


def system_prompt(messages: Sequence[ChatMessage]) -> str:
    """A reply that says which instructions the model was given (to check overrides)."""
    return f"Told {messages[0].content}"


async def test_an_audio_item_joins_the_history_unanswered_even_with_server_vad() -> None:
    providers = fake_providers([QUESTION], ["Nine."])
    async with (
        realtime_server(providers) as site,
        site.client().realtime.connect(model="m") as conn,
        receiving(conn) as got,
    ):
        created = await got.next("session.created")
        assert created["session"]["audio"]["input"]["turn_detection"] is not None
        await conn.session.update(
            session={"type": "realtime", "audio": {"input": {"transcription": TRANSCRIBE}}}
        )
        audio = speech("question_time")
        await conn.conversation.item.create(
            item={"type": "message", "role": "user",
                  "content": [{"type": "input_audio", "audio": b64(audio.pcm)}]}
        )  # fmt: skip
        added = await got.next("conversation.item.added")
        transcribed = await got.next("conversation.item.input_audio_transcription.completed")
        await asyncio.sleep(1.0)
        unasked = got.of("response.created")
        session = site.session(created["session"]["id"])
        history = [(m.role, m.content) for m in session.conversation.history]
        policy_after = session.conversation.policy
        await conn.response.create()
        done = await got.next("response.done")

    assert added["item"]["content"] == [{"type": "input_audio", "transcript": None}]
    assert transcribed["item_id"] == added["item"]["id"]
    assert transcribed["transcript"] == QUESTION
    assert got.of("input_audio_buffer.committed") == []  # an item, not the buffer
    assert unasked == []
    assert history[1:] == [("user", QUESTION)]
    assert policy_after.auto_respond and policy_after.interrupt_on_speech  # server VAD again
    assert done["response"]["status"] == "completed"


async def test_per_response_instructions_apply_to_that_response_only() -> None:
    async with (
        realtime_server(fake_providers([], system_prompt)) as site,
        site.client().realtime.connect(model="m") as conn,
        receiving(conn) as got,
    ):
        await conn.session.update(session={"type": "realtime", "instructions": "Be calm."})
        await got.next("session.updated")
        await conn.response.create(
            response={"instructions": "Greet warmly.", "metadata": {"topic": "hello"}}
        )
        first = await got.next("response.done")
        mark = got.mark()
        await conn.response.create()
        second = await got.next("response.done", after=mark)

    def said(done: dict[str, object]) -> object:
        return done["response"]["output"][0]["content"][0]["transcript"]  # type: ignore[index]

    assert said(first) == "Told Greet warmly."
    assert first["response"]["metadata"] == {"topic": "hello"}
    assert said(second) == "Told Be calm."
    assert second["response"]["metadata"] is None


async def test_commit_with_server_vad_ends_the_speech_in_progress() -> None:
    async with (
        realtime_server(fake_providers([QUESTION], ["Nine."])) as site,
        site.client().realtime.connect(model="m") as conn,
        receiving(conn) as got,
    ):
        await got.next("session.created")
        clip = speech("question_time")
        cut = clip.pcm[: round(2.4 * 24000) * 2]  # stop mid-sentence: no silence after
        for chunk in chunks(AudioFrame(cut, 24000)):
            await conn.input_audio_buffer.append(audio=chunk)
        await got.next("input_audio_buffer.speech_started")
        await conn.input_audio_buffer.commit()
        stopped = await got.next("input_audio_buffer.speech_stopped")
        committed = await got.next("input_audio_buffer.committed")
        done = await got.next("response.done")

    assert abs(stopped["audio_end_ms"] - 2400) <= 40
    assert committed["item_id"] == stopped["item_id"]
    assert done["response"]["status"] == "completed"


async def test_a_commit_with_server_vad_leaves_the_audio_timeline_as_the_client_sent_it() -> None:
    """Ending speech adds no audio of its own: later positions are the client's, and speech
    a late commit ends, ends where its audio did."""
    async with (
        realtime_server(fake_providers([QUESTION, QUESTION], ["Nine.", "Ten."])) as site,
        site.client().realtime.connect(model="m") as conn,
        receiving(conn) as got,
    ):
        await got.next("session.created")
        clip = speech("question_time")
        cut = AudioFrame(clip.pcm[: round(2.4 * 24000) * 2], 24000)
        for chunk in chunks(cut):
            await conn.input_audio_buffer.append(audio=chunk)
        first = await got.next("input_audio_buffer.speech_started")
        await asyncio.sleep(0.3)  # the commit comes well after the last audio
        await conn.input_audio_buffer.commit()
        stopped = await got.next("input_audio_buffer.speech_stopped")
        mark = got.mark()
        for chunk in chunks(AudioFrame.silence(1.0, 24000)) + chunks(clip):
            await conn.input_audio_buffer.append(audio=chunk)
        second = await got.next("input_audio_buffer.speech_started", after=mark)

    assert abs(stopped["audio_end_ms"] - 2400) <= 40
    expected = 2400 + 1000 + first["audio_start_ms"]  # the same clip, 3.4 s later
    assert abs(second["audio_start_ms"] - expected) <= 40, (second, expected)


async def test_turns_without_create_response_wait_for_response_create() -> None:
    providers = fake_providers([QUESTION], ["Nine."])
    async with (
        realtime_server(providers) as site,
        site.client().realtime.connect(model="m") as conn,
        receiving(conn) as got,
    ):
        await conn.session.update(
            session={"type": "realtime", "audio": {"input": {"turn_detection": {
                "type": "server_vad", "create_response": False,
                "interrupt_response": False, "silence_duration_ms": 300}}}}
        )  # fmt: skip
        updated = (await got.next("session.updated"))["session"]
        for chunk in chunks(speech("question_time")) + chunks(AudioFrame.silence(0.5, 24000)):
            await conn.input_audio_buffer.append(audio=chunk)
        await got.next("input_audio_buffer.committed")
        await asyncio.sleep(1.0)
        unasked = got.of("response.created")
        await conn.response.create()
        done = await got.next("response.done")

    td = updated["audio"]["input"]["turn_detection"]
    assert (td["create_response"], td["interrupt_response"], td["silence_duration_ms"]) == (
        False, False, 300,
    )  # fmt: skip
    assert unasked == []
    assert isinstance(providers.llm, FakeLLM)
    assert providers.llm.calls[0][-1].content == QUESTION
    assert done["response"]["status"] == "completed"


async def test_provider_failures_become_failed_responses_and_transcripts() -> None:
    providers = Providers(
        vad=EnergyVAD(),
        stt=FakeSTT([None], final_latency=0.1, partial_interval=None),  # says nothing at all
        llm=FakeLLM(["Never heard."], faults=[Fault(FaultKind.RAISE, call=1)]),
        tts=FakeTTS(sample_rate=16000, first_byte_latency=0.05),
    )
    policy = {"transcript_timeout_ms": 500}
    async with (
        realtime_server(providers, session={"policy": policy}) as site,
        site.client().realtime.connect(model="m") as conn,
        receiving(conn) as got,
    ):
        await conn.session.update(
            session={"type": "realtime", "audio": {"input": {"transcription": TRANSCRIBE}}}
        )
        for chunk in chunks(speech("question_time")) + chunks(AudioFrame.silence(1.0, 24000)):
            await conn.input_audio_buffer.append(audio=chunk)
        failed = await got.next("conversation.item.input_audio_transcription.failed")
        committed = got.of("input_audio_buffer.committed")[0]
        await conn.conversation.item.create(
            item={"type": "message", "role": "user",
                  "content": [{"type": "input_text", "text": "hello"}]}
        )  # fmt: skip
        await conn.response.create()
        done = await got.next("response.done")
        errors = got.errors()

    assert failed["item_id"] == committed["item_id"]
    assert failed["error"]["code"] == "stt_timeout"
    assert done["response"]["status"] == "failed"
    assert done["response"]["status_details"]["error"]["code"] == "llm_failed"
    assert [(e["type"], e["code"]) for e in errors] == [("server_error", "llm_failed")]
