"""Deepgram live STT against a fake Deepgram server (real sockets, real time)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import numpy as np
import pytest

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import ProviderError, Transcript
from parley.providers.cloud.common import CredentialsError
from parley.providers.cloud.config import DeepgramSettings
from parley.providers.cloud.deepgram import DeepgramStream, DeepgramSTT

from .fakes.deepgram import KEY, FakeDeepgram
from .fakes.servers import ws_server

RATE = 16000
FRAME_S = 0.02
_t = np.arange(round(FRAME_S * RATE)) / RATE
TONE = AudioFrame.from_float(0.1 * np.sin(2 * np.pi * 200 * _t), RATE)
SILENCE = AudioFrame.silence(FRAME_S, RATE)


class Listener:
    """Pushes audio like the input path (faster than real time) and collects transcripts."""

    def __init__(self, stream: DeepgramStream) -> None:
        self.stream = stream
        self.got: list[tuple[float, Transcript]] = []
        self._reader: asyncio.Task[None] | None = None
        self.error: BaseException | None = None

    async def read(self) -> None:
        try:
            async for transcript in self.stream:
                self.got.append((time.monotonic(), transcript))
        except Exception as exc:
            self.error = exc

    async def push(self, frame: AudioFrame, seconds: float, pace: float = 0.002) -> None:
        for _ in range(round(seconds / FRAME_S)):
            self.stream.push_audio(frame)
            await asyncio.sleep(pace)

    async def say(self, seconds: float, silence_after: float = 0.5) -> None:
        """Speech as the local VAD frames it: a start hint, the speech, the turn-ending
        silence, the end hint."""
        self.stream.speech_started()
        await self.push(TONE, seconds)
        await self.push(SILENCE, silence_after)
        self.stream.speech_ended()

    async def until(self, predicate: object, limit: float = 5.0) -> None:
        assert callable(predicate)
        deadline = time.monotonic() + limit
        while not predicate():
            if self.error is not None:
                raise self.error
            assert time.monotonic() < deadline, f"timed out; got {self.texts()}"
            await asyncio.sleep(0.01)

    def completes(self) -> list[Transcript]:
        return [t for _, t in self.got if t.complete]

    def finals(self) -> list[str]:
        return [t.text for _, t in self.got if t.final and t.text]

    def texts(self) -> list[tuple[str, bool, bool]]:
        return [(t.text, t.final, t.complete) for _, t in self.got]


@asynccontextmanager
async def deepgram(fake: FakeDeepgram, **changes: object) -> AsyncIterator[Listener]:
    async with ws_server(fake.handler, fake.process_request) as url:
        settings = DeepgramSettings.model_validate(
            {"base_url": url + "/v1/listen", "api_key": KEY, **changes}
        )
        stream = DeepgramSTT(settings).stream(TurnTakingPolicy())
        listener = Listener(stream)
        reader = asyncio.create_task(listener.read())
        try:
            yield listener
        finally:
            await asyncio.wait_for(stream.aclose(), 3)
            await asyncio.wait_for(reader, 3)


async def test_streams_partials_and_finals_and_completes_the_turn() -> None:
    fake = FakeDeepgram()
    fake.add("hello there my friend")
    async with deepgram(fake) as listener:
        await listener.push(SILENCE, 0.3)
        await listener.say(1.5)
        await listener.until(lambda: listener.completes())
    partials = [t.text for _, t in listener.got if not t.final]
    assert partials[0] == "hello" and len(partials) >= 4  # one every 0.25 s of speech
    assert all("hello there my friend".startswith(p) for p in partials)
    assert listener.finals() == ["hello there my friend"]
    # Deepgram had endpointed (speech_final) before the hint: complete at once, no Finalize.
    assert listener.completes() == [Transcript("", final=True, complete=True)]
    assert "Finalize" not in fake.controls
    assert fake.controls[-1] == "CloseStream"  # closing flushed and closed the stream
    query = fake.queries[0]
    expected = {
        "model": "nova-3",
        "encoding": "linear16",
        "sample_rate": "16000",
        "interim_results": "true",
        "endpointing": "300",
        "utterance_end_ms": "1000",
        "vad_events": "true",
        "channels": "1",
    }
    assert {k: query[k][0] for k in expected} == expected
    assert listener.stream.speech_started_events == 1
    assert fake.connections == 1


async def test_finalize_answers_the_end_of_speech_hint() -> None:
    fake = FakeDeepgram()
    fake.add("book a table for two")
    async with deepgram(fake, endpointing_ms=None, utterance_end_ms=None) as listener:
        await listener.say(1.5)
        hinted = time.monotonic()
        await listener.until(lambda: listener.completes())
    assert fake.controls[0] == "Finalize"
    complete = listener.completes()
    assert complete == [Transcript("book a table for two", final=True, complete=True)]
    answered = next(t for t, x in listener.got if x.complete)
    assert answered - hinted < 0.5


async def test_an_unanswered_finalize_completes_after_the_timeout() -> None:
    fake = FakeDeepgram(answer_finalize=False)
    fake.add(None)  # noise: Deepgram hears no words
    async with deepgram(fake, endpointing_ms=None, finalize_timeout_ms=300) as listener:
        await listener.say(0.4)
        hinted = time.monotonic()
        await listener.until(lambda: listener.completes())
    waited = next(t for t, x in listener.got if x.complete) - hinted
    assert listener.completes() == [Transcript("", final=True, complete=True)]
    assert 0.3 <= waited < 1.0


async def test_a_later_turns_unanswered_finalize_also_completes_after_the_timeout() -> None:
    fake = FakeDeepgram()
    fake.add("book a table", None)  # then noise: Deepgram hears no words
    async with deepgram(fake, endpointing_ms=None, finalize_timeout_ms=300) as listener:
        await listener.say(1.0)
        await listener.until(lambda: listener.completes())  # answered by Deepgram
        fake.answer_finalize = False
        await listener.say(0.4)
        hinted = time.monotonic()
        await listener.until(lambda: len(listener.completes()) == 2)
    waited = listener.got[-1][0] - hinted
    assert listener.completes() == [
        Transcript("book a table", final=True, complete=True),
        Transcript("", final=True, complete=True),
    ]
    assert fake.controls.count("Finalize") == 2
    assert 0.3 <= waited < 1.0


async def test_a_stalled_server_still_lets_the_turn_complete() -> None:
    fake = FakeDeepgram(stall_at={1: 0.5})
    fake.add("you will not hear this")
    async with deepgram(fake, finalize_timeout_ms=300) as listener:
        await listener.say(1.0)
        await listener.until(lambda: listener.completes())
    assert listener.completes() == [Transcript("", final=True, complete=True)]


async def test_a_drop_mid_turn_reconnects_and_replays_the_turn() -> None:
    fake = FakeDeepgram(drop_at={1: 1.0})  # the first connection drops 0.7 s into the speech
    fake.add("first turn words", "second turn")
    async with deepgram(fake) as listener:
        await listener.push(SILENCE, 0.3)
        await listener.say(1.2)
        await listener.until(lambda: listener.completes())
        await listener.say(0.8)
        await listener.until(lambda: len(listener.completes()) == 2)
    assert listener.finals() == ["first turn words", "second turn"]  # each once, none lost
    assert fake.connections == 2
    # The second connection heard the turn from its start: what Deepgram had not finalized.
    assert fake.audio_seconds[1] >= 1.2 + 0.5 + 0.8 + 0.5
    assert listener.stream.connections == 2


async def test_after_a_final_only_unacknowledged_audio_is_replayed() -> None:
    fake = FakeDeepgram(drop_at={1: 2.5})
    fake.add("acknowledged words", "after the drop")
    async with deepgram(fake) as listener:
        await listener.say(1.0)  # 0.0-1.5 s: final at 1.3 s (endpointing)
        await listener.until(lambda: listener.completes())
        await listener.push(SILENCE, 1.2)  # the drop comes at 2.5 s of audio
        await listener.say(0.8)
        await listener.until(lambda: len(listener.completes()) == 2)
    assert listener.finals() == ["acknowledged words", "after the drop"]
    total = 1.0 + 0.5 + 1.2 + 0.8 + 0.5
    replayed_from = total - fake.audio_seconds[1]
    assert 1.25 <= replayed_from <= 1.35  # from the end of the final (1.3 s), not from 0


async def test_a_server_that_stops_reading_is_dropped_before_the_backlog_grows(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The first socket stops reading after 1 s: what the client sends backs up in the
    # kernel's buffers, then in the stream's queue, which must not grow without bound.
    fake = FakeDeepgram(deaf_at={1: 1.0})
    fake.add("after the new socket")
    second = AudioFrame.silence(1.0, RATE)
    limit = 1.0
    async with deepgram(fake, send_backlog_s=limit, replay_limit_s=2.0) as listener:
        stream = listener.stream
        await listener.until(lambda: stream.connections == 1)  # nothing to replay on it
        worst = 0.0
        for _ in range(2000):  # up to 2000 s of audio, far more than the buffers hold
            stream.push_audio(second)
            worst = max(worst, stream.backlog_s)
            await asyncio.sleep(0.001)
            if fake.connections == 2:
                break
        assert fake.connections == 2, "the deaf socket was never dropped"
        await listener.say(0.8)
        await listener.until(lambda: listener.completes())
    assert listener.finals() == ["after the new socket"]
    assert worst <= limit + 1.0  # the bound, plus the frame that crossed it
    assert "the server stopped reading" in caplog.text


async def test_keepalive_holds_an_idle_socket_open() -> None:
    fake = FakeDeepgram(idle_timeout=0.5)
    async with deepgram(fake, keepalive_s=0.2) as listener:
        await listener.push(SILENCE, 0.1)
        await asyncio.sleep(1.2)
    assert fake.controls.count("KeepAlive") >= 4
    assert fake.connections == 1


async def test_an_idle_close_by_the_server_is_survived() -> None:
    fake = FakeDeepgram(idle_timeout=0.3)
    fake.add("still here")
    async with deepgram(fake, keepalive_s=5.0) as listener:
        await listener.push(SILENCE, 0.1)
        await asyncio.sleep(0.6)  # NET-0001: the server closes the idle socket
        await listener.say(1.0)
        await listener.until(lambda: listener.completes())
    assert fake.connections >= 2
    assert listener.finals() == ["still here"]


async def test_bad_credentials_fail_the_stream_without_showing_the_key() -> None:
    fake = FakeDeepgram()
    async with deepgram(fake, api_key="dg-wrong-secret-key-value") as listener:
        listener.stream.push_audio(SILENCE)
        await listener.until(lambda: listener.error is not None)
        queued = listener.stream._connection.outbox.qsize()
        listener.stream.push_audio(SILENCE)
        assert listener.stream._connection.outbox.qsize() == queued  # a failed stream queues none
    error = listener.error
    assert isinstance(error, CredentialsError)
    assert "HTTP 401" in str(error) and "Invalid credentials" in str(error)
    assert "dg-wrong-secret-key-value" not in str(error)
    assert fake.connections == 0


async def test_closing_mid_speech_sends_closestream_and_returns_promptly() -> None:
    fake = FakeDeepgram()
    fake.add("cut short")
    async with ws_server(fake.handler, fake.process_request) as url:
        settings = DeepgramSettings.model_validate({"base_url": url, "api_key": KEY})
        stream = DeepgramSTT(settings).stream(TurnTakingPolicy())
        listener = Listener(stream)
        reader = asyncio.create_task(listener.read())
        stream.speech_started()
        await listener.push(TONE, 0.6)
        await listener.until(lambda: listener.got)  # words are flowing
        started = time.monotonic()
        await stream.aclose()
        closed_in = time.monotonic() - started
        await asyncio.wait_for(reader, 1)
    assert fake.controls == ["CloseStream"]
    assert closed_in < 0.5
    assert listener.error is None
    with pytest.raises(StopAsyncIteration):
        await anext(aiter(stream))


async def test_a_server_error_is_logged_and_becomes_the_streams_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Deepgram says what went wrong in an Error message, then closes 1011.
    fake = FakeDeepgram(error_at={1: 0.5, 2: 0.1})
    caplog.set_level(logging.WARNING, logger="parley.cloud.deepgram")
    async with deepgram(fake, reconnect_attempts=1) as listener:
        await listener.push(SILENCE, 1.0)
        await listener.until(lambda: listener.error is not None)
    error = listener.error
    assert type(error) is ProviderError
    assert "Internal server error while transcribing the audio." in str(error)
    assert "1011" in str(error)
    assert fake.connections == 2  # it was retried once, then failed the turn
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    reported = [w for w in warnings if "Internal server error while transcribing" in w]
    assert len(reported) >= 2  # each Error message, not just the close


async def test_a_server_error_naming_the_key_is_bad_credentials_and_redacted() -> None:
    fake = FakeDeepgram(error_at={1: 0.1})
    fake.error_description = f"Invalid credentials: key {KEY} was revoked."
    async with deepgram(fake, reconnect_attempts=0) as listener:
        await listener.push(SILENCE, 0.5)
        await listener.until(lambda: listener.error is not None)
    assert isinstance(listener.error, CredentialsError)
    assert KEY not in str(listener.error) and KEY[-8:] not in str(listener.error)
