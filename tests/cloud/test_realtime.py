"""OpenAI Realtime facets against a fake Realtime server: settings mapping, the session
configuration, faults (bad key, stall, drop and reconnect) and cutting an unheard response."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.conversation.server_vad import ServerVAD, policy_for
from parley.providers.base import (
    ProviderError,
    STTStream,
    Transcript,
    TTSChunk,
    VADEvent,
    VADEventKind,
    VADStream,
)
from parley.providers.cloud.common import CredentialsError, StalledError
from parley.providers.cloud.config import OpenAIRealtimeSettings
from parley.providers.cloud.realtime_connection import RealtimeConnection
from parley.providers.cloud.realtime_facets import (
    RealtimeLLM,
    RealtimeSTT,
    RealtimeTTS,
    RealtimeVAD,
)
from parley.providers.cloud.realtime_wire import AudioDelta, parse_event, turn_detection
from parley.providers.scope import SessionScope
from parley.types import ChatMessage

from .fakes.realtime import KEY, FakeRealtime
from .fakes.servers import ws_server

HISTORY = (ChatMessage("system", "Be brief."), ChatMessage("user", "hello"))


def test_server_vad_maps_to_and_from_the_turn_taking_policy() -> None:
    policy = TurnTakingPolicy(vad_threshold=0.6, prefix_padding_ms=200, min_silence_ms=700)
    assert turn_detection(policy) == {
        "type": "server_vad",
        "threshold": 0.6,
        "prefix_padding_ms": 200,
        "silence_duration_ms": 700,
        "create_response": False,  # parley decides when to answer and to interrupt
        "interrupt_response": False,
    }
    client = ServerVAD(threshold=0.7, prefix_padding_ms=100, silence_duration_ms=800)
    mapped = policy_for(client, policy)
    assert (mapped.vad_threshold, mapped.prefix_padding_ms, mapped.min_silence_ms) == (
        0.7,
        100,
        800,
    )
    assert mapped.merge_gap_ms == policy.merge_gap_ms  # parley's own settings stay
    with pytest.raises(ValidationError):
        policy_for(client.model_copy(update={"silence_duration_ms": 5}), policy)


def test_a_server_event_is_parsed_into_its_model_and_odd_ones_are_told_apart() -> None:
    for name in ("response.output_audio.delta", "response.audio.delta"):  # GA and beta
        raw = f'{{"type": "{name}", "response_id": "r1", "item_id": "i1", "delta": "AA=="}}'
        event = parse_event(raw)
        assert isinstance(event, AudioDelta) and event.response_id == "r1"
    assert parse_event('{"type": "rate_limits.updated"}') is None  # not read by parley
    assert parse_event("[1, 2]") is None
    with pytest.raises(json.JSONDecodeError):
        parse_event("not json")
    with pytest.raises(ValidationError):  # its item_id is missing
        parse_event('{"type": "input_audio_buffer.committed"}')


@dataclass
class Bound:
    fake: FakeRealtime
    stt: RealtimeSTT
    llm: RealtimeLLM
    tts: RealtimeTTS
    vad: RealtimeVAD | None = None
    streams: list[STTStream] = field(default_factory=list)
    transcripts: list[Transcript] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)

    def open(self) -> STTStream:
        """Open the connection, as the session's STT runner does (again after a failure)."""
        stream = self.stt.stream(TurnTakingPolicy())
        self.streams.append(stream)
        self.readers.append(asyncio.create_task(self._read(stream)))
        return stream

    async def _read(self, stream: STTStream) -> None:
        try:
            async for transcript in stream:
                self.transcripts.append(transcript)
        except Exception as exc:
            self.errors.append(exc)

    async def respond(
        self, messages: tuple[ChatMessage, ...] = HISTORY
    ) -> tuple[str, list[TTSChunk]]:
        text_stream = self.llm.stream(messages)
        speech = self.tts.stream(24000)
        text = "".join([d async for d in text_stream])
        chunks = [c async for c in speech]
        await speech.aclose()
        return text, chunks


@asynccontextmanager
async def realtime(
    fake: FakeRealtime, *, server_vad: bool = True, **changes: Any
) -> AsyncIterator[Bound]:
    async with ws_server(fake.handler, fake.process_request) as url:
        settings = OpenAIRealtimeSettings.model_validate(
            {"base_url": url + "/v1/realtime", "api_key": KEY, "response_timeout_s": 2, **changes}
        )
        scope = SessionScope()
        vad = RealtimeVAD(settings).for_session(scope) if server_vad else None
        bound = Bound(
            fake,
            RealtimeSTT(settings).for_session(scope),
            RealtimeLLM(settings).for_session(scope),
            RealtimeTTS(settings).for_session(scope),
            vad,
        )
        try:
            yield bound
        finally:
            for stream in bound.streams:
                await asyncio.wait_for(stream.aclose(), 3)
            await asyncio.wait_for(scope.aclose(), 3)
            await asyncio.wait(bound.readers, timeout=3)


async def until(predicate: Any, limit: float = 3.0) -> None:
    for _ in range(round(limit / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def test_a_response_streams_text_audio_and_word_timings() -> None:
    fake = FakeRealtime()
    fake.replies.append("Hi there, friend.")
    async with realtime(fake) as bound:
        bound.open()
        text, chunks = await bound.respond()
        link = bound.llm.link
        assert link is not None
        assert not link.by_event_id and not link.by_server_id  # a done response is let go
    assert text == "Hi there, friend. "
    audio = sum(c.audio.duration for c in chunks)
    assert audio == pytest.approx(0.75)
    words = [w for c in chunks for w in c.words]
    assert [w.text for w in words] == ["Hi", "there,", "friend."]
    assert words[0].start == 0 and words[-1].end == pytest.approx(0.75)
    config = fake.sessions[0]["audio"]
    assert config["input"]["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "create_response": False,
        "interrupt_response": False,
    }
    assert config["output"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert fake.sessions[-1]["instructions"] == "Be brief."


async def test_with_a_local_vad_each_end_of_speech_commits_and_is_answered() -> None:
    fake = FakeRealtime()
    fake.transcripts.append("book a table")
    async with realtime(fake, server_vad=False) as bound:
        stream = bound.open()
        stream.speech_ended()  # nothing captured: an empty commit, answered with ""
        stream.speech_started()
        for _ in range(25):
            stream.push_audio(AudioFrame(b"\x10\x00" * 480, 24000))
        stream.speech_ended()
        await until(lambda: len(bound.transcripts) == 2)
    assert fake.sessions[0]["audio"]["input"]["turn_detection"] is None
    assert bound.transcripts == [Transcript("", True, True), Transcript("book a table", True, True)]


async def test_bad_credentials_fail_the_connection_without_the_key() -> None:
    fake = FakeRealtime()
    async with realtime(fake, api_key="sk-wrong-secret-realtime-key") as bound:
        stream = bound.open()
        await until(lambda: bound.errors)
        assert isinstance(stream, RealtimeConnection)
        for _ in range(5):
            stream.push_audio(AudioFrame.silence(0.02, 24000))
        assert stream._outbox.empty()  # a failed connection queues no audio
    [error] = bound.errors
    assert isinstance(error, CredentialsError) and "HTTP 401" in str(error)
    assert "sk-wrong-secret-realtime-key" not in str(error)


async def test_a_bad_key_accepted_at_the_handshake_fails_as_bad_credentials() -> None:
    # The real service opens the socket, sends invalid_api_key, then closes with 3000.
    fake = FakeRealtime(reject_after_open=True)
    async with realtime(fake, api_key="sk-wrong-secret-realtime-key") as bound:
        bound.open()
        await until(lambda: bound.errors)
    [error] = bound.errors
    assert isinstance(error, CredentialsError) and "invalid_api_key" in str(error)
    assert "sk-wrong-secret-realtime-key" not in str(error)


async def test_an_error_answering_the_session_update_fails_the_start() -> None:
    # A server that refuses the configuration runs on its defaults (its own VAD answering by
    # itself): the connection must not carry on as if configured.
    fake = FakeRealtime(unknown_session_fields=("output_modalities",))
    async with realtime(fake) as bound:
        bound.open()
        await until(lambda: bound.errors)
        listener = ear(bound)
        listener.listen(*[VOICED] * 25, *[SILENT] * 40)  # not sent: the stream failed
        await asyncio.sleep(0.2)
    [error] = bound.errors
    assert type(error) is ProviderError
    assert "refused the session" in str(error) and "unknown_parameter" in str(error)
    assert fake.conversations == []  # the server never answered by itself


async def test_a_server_that_stops_reading_fails_the_stream_before_the_backlog_grows(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The socket stops being read after 1 s of audio: what the stream sends backs up in the
    # kernel's buffers, then in its queue, which must not grow without bound.
    fake = FakeRealtime(deaf_after_ms=1000)
    limit = 1.0
    second = AudioFrame.silence(1.0, 24000)
    async with realtime(fake, send_backlog_s=limit) as bound:
        stream = bound.open()
        assert isinstance(stream, RealtimeConnection)
        await until(lambda: stream.configured)
        worst = 0.0
        for _ in range(2000):  # up to 2000 s of audio, far more than the buffers hold
            stream.push_audio(second)
            worst = max(worst, stream.backlog_s)
            await asyncio.sleep(0.001)
            if bound.errors:
                break
        [error] = bound.errors
        assert "the server stopped reading" in str(error)
        assert worst <= limit + 1.0  # the bound, plus the frame that crossed it
        fake.deaf_after_ms = None
        again = bound.open()  # as the session does after a failure
        assert isinstance(again, RealtimeConnection)
        await until(lambda: again.configured)
    assert fake.connections == 2
    assert "the server stopped reading" in caplog.text


async def test_the_server_vad_positions_are_onset_and_end_of_voiced_audio() -> None:
    # audio_start_ms includes the prefix padding, audio_end_ms the closing silence.
    fake = FakeRealtime()
    fake.transcripts.append("hello")
    async with realtime(fake) as bound:
        bound.open()
        listener = ear(bound)
        assert listener.listen(*[SILENT] * 50, *[VOICED] * 40) == []  # speech 1.0-1.8 s
        events = await listener.hear(2)
    assert [e.kind for e in events] == [VADEventKind.START, VADEventKind.END]
    assert events[0].offset == pytest.approx(1.0, abs=0.002)
    assert events[1].offset == pytest.approx(1.8, abs=0.002)


async def test_a_stalled_response_fails_after_the_response_timeout() -> None:
    fake = FakeRealtime(stall_after_deltas=1)
    fake.replies.append("one two three")
    async with realtime(fake, response_timeout_s=0.3) as bound:
        bound.open()
        with pytest.raises(StalledError, match="stalled"):
            await bound.respond()


async def test_a_drop_fails_the_response_and_the_next_connection_restores_the_history() -> None:
    fake = FakeRealtime(drop_after_deltas=1)
    fake.replies.extend(["one two three", "Back again."])
    async with realtime(fake) as bound:
        bound.open()
        with pytest.raises(ProviderError):
            await bound.respond()
        await until(lambda: bound.errors)  # the STT stream fails: the session reopens it
        fake.drop_after_deltas = None
        bound.open()
        history = (*HISTORY, ChatMessage("assistant", "one"), ChatMessage("user", "and now?"))
        text, _ = await bound.respond(history)
    assert text == "Back again. "
    assert fake.connections == 2
    seeded = [(i.role, i.text) for i in fake.conversations[-1]]
    assert seeded == [("user", "hello"), ("assistant", "one"), ("user", "and now?")]


async def test_a_response_cut_before_any_audio_was_heard_is_deleted() -> None:
    fake = FakeRealtime(word_delay=0.2)
    fake.replies.append(" ".join(f"w{i}" for i in range(20)))
    async with realtime(fake) as bound:
        bound.open()
        text_stream = bound.llm.stream(HISTORY)
        speech = bound.tts.stream(24000)
        assert await anext(text_stream) == "w0 "
        speech.interrupted(0.0)  # the person spoke before hearing any of it
        await speech.aclose()
        await text_stream.aclose()
        await until(lambda: fake.deleted)
    assert fake.cancelled == 1
    assert fake.truncated == [] and len(fake.deleted) == 1


SILENT = AudioFrame.silence(0.02, 24000)
VOICED = AudioFrame(b"\x00\x10" * 480, 24000)  # 20 ms at -18 dBFS


@dataclass
class Ear:
    """The session's input path, seen by the VAD facet: each frame goes to the live STT
    stream, then through the VAD stream (whose positions count from its first sample)."""

    bound: Bound
    vad: VADStream
    seconds: float = 0.0  # audio heard so far
    probability: float = 0.0

    def listen(self, *frames: AudioFrame) -> list[VADEvent]:
        events: list[VADEvent] = []
        for frame in frames:
            self.bound.streams[-1].push_audio(frame)
            output = self.vad.process(frame)
            events += output.events
            self.probability = output.probability
            self.seconds += frame.duration
        return events

    async def hear(self, count: int) -> list[VADEvent]:
        """Listen on (silence) until `count` server decisions have come."""
        events: list[VADEvent] = []
        for _ in range(300):
            events += self.listen(SILENT)
            if len(events) >= count:
                return events
            await asyncio.sleep(0.01)
        raise AssertionError(f"timed out with {events}")

    async def drop_and_reconnect(self) -> list[VADEvent]:
        fake, bound = self.bound.fake, self.bound
        await until(lambda: fake.sessions)
        failures = len(bound.errors)
        fake.drop()
        await until(lambda: len(bound.errors) > failures)  # the STT stream fails...
        events = self.listen(*[SILENT] * 10)  # (the dead connection sends none of this)
        bound.open()  # ...and the session reopens it
        return events


def ear(bound: Bound) -> Ear:
    assert bound.vad is not None
    return Ear(bound, bound.vad.stream(TurnTakingPolicy(), 24000))


async def test_after_a_reconnect_the_server_vad_decisions_stay_on_the_vad_timeline() -> None:
    fake = FakeRealtime()
    fake.transcripts.append("still here")
    async with realtime(fake) as bound:
        bound.open()
        listener = ear(bound)
        assert listener.listen(*[SILENT] * 100) == []  # 2 s on the first connection
        assert await listener.drop_and_reconnect() == []
        before = listener.seconds  # 2.2 s before the new connection's first sample
        assert listener.listen(*[SILENT] * 25, *[VOICED] * 25) == []
        events = await listener.hear(2)
        bound.streams[-1].speech_ended()  # the input path's hint at the end of speech
        await until(lambda: bound.transcripts)
    assert fake.connections == 2
    assert before == pytest.approx(2.2)
    assert [e.kind for e in events] == [VADEventKind.START, VADEventKind.END]
    assert events[0].offset == pytest.approx(before + 0.5, abs=0.002)  # not 0.5: the past
    assert events[1].offset == pytest.approx(before + 1.0, abs=0.002)
    assert bound.transcripts == [Transcript("still here", True, True)]


async def test_a_drop_during_speech_ends_it_and_the_next_speech_is_answered_in_turn() -> None:
    fake = FakeRealtime()
    fake.transcripts.append("still here")
    async with realtime(fake) as bound:
        bound.open()
        listener = ear(bound)
        assert listener.listen(*[SILENT] * 25, *[VOICED] * 25) == []
        [start] = await listener.hear(1)
        assert listener.probability == 1.0  # the server hears speech
        events = await listener.drop_and_reconnect()
        dropped = listener.seconds
        events += listener.listen(SILENT)  # the first frame for the new connection
        # The input path ends the turn; the new connection will never transcribe that
        # speech, so it answers this end of speech at once, with no words.
        bound.streams[-1].speech_ended()
        await until(lambda: bound.transcripts)
        assert listener.probability == 0.0
        assert listener.listen(*[VOICED] * 25) == []
        later = await listener.hear(2)
        bound.streams[-1].speech_ended()
        await until(lambda: len(bound.transcripts) == 2)
    assert start.kind is VADEventKind.START and start.offset == pytest.approx(0.5, abs=0.002)
    assert [e.kind for e in events] == [VADEventKind.END]
    assert events[0].offset == pytest.approx(dropped)  # where the old connection's audio ended
    assert [e.kind for e in later] == [VADEventKind.START, VADEventKind.END]
    # Speech 20 ms into a connection: its audio_start_ms (onset less 300 ms of prefix
    # padding) is 0, which can only say "within the padding": taken as the connection's start.
    assert later[0].offset == pytest.approx(dropped, abs=0.002)
    assert later[1].offset == pytest.approx(dropped + 0.52, abs=0.002)
    assert bound.transcripts == [Transcript("", True, True), Transcript("still here", True, True)]
