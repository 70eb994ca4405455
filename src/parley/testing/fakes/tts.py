"""A scripted TTS whose audio can be checked sample by sample.

Every word lasts `word_duration`; audio comes in `chunk_duration` chunks after a first-byte
latency. Samples count up (wrapping), continuing across the segments of a stream, and each
stream counts from its own place: a listener's recording of one response shows any lost,
repeated or foreign audio as a break in the count.
With `linger_after_cancel` it behaves like a provider that ignores cancellation and keeps
sending audio for a while, which the output stage must drop (invariant 3).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

import numpy as np

from parley.audio.frames import AudioFrame
from parley.providers.base import TTSChunk, TTSStream
from parley.providers.segment_tts import SegmentTTS, SegmentTTSStream
from parley.testing.fakes.faults import Fault, slow_close, strike
from parley.types import TimedWord

COUNTER_WRAP = 30000


RECENT_KEPT = 100  # segments and closes remembered (tests read them)


class FakeTTS(SegmentTTS):
    name = "fake"

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        word_duration: float = 0.25,
        chunk_duration: float = 0.1,
        first_byte_latency: float = 0.05,
        chunk_latency: float = 0.01,
        word_timings: bool = True,
        faults: Sequence[Fault] = (),
        close_delay: float = 0.0,
        linger_after_cancel: float = 0.0,
    ) -> None:
        self.sample_rate = sample_rate
        self.word_duration = word_duration
        self.chunk_duration = chunk_duration
        self.first_byte_latency = first_byte_latency
        self.chunk_latency = chunk_latency
        self.word_timings = word_timings
        self.faults = tuple(faults)
        self.close_delay = close_delay
        self.linger_after_cancel = linger_after_cancel
        self.streams_opened = 0
        # The latest segments and closes, for tests: a long-running server keeps no more.
        self.segments: deque[str] = deque(maxlen=RECENT_KEPT)
        self.chunks_after_cancel = 0
        self.closes: deque[tuple[float, float]] = deque(maxlen=RECENT_KEPT)  # (began, finished)

    def stream(self, output_rate: int | None = None) -> TTSStream:
        self.streams_opened += 1
        return _FakeTTSStream(_FakeTTSCall(self, self.streams_opened))

    def synthesize(self, text: str) -> AsyncIterator[TTSChunk]:
        return _FakeTTSCall(self, 0).synthesize(text)


class _FakeTTSCall(SegmentTTS):
    """The segments of one stream: knows its call number for scripted faults."""

    def __init__(self, tts: FakeTTS, call: int) -> None:
        self.tts = tts
        self.call = call
        self.sample_rate = tts.sample_rate
        self.produced = 0
        self._next_sample = call * 10007  # each stream counts from its own place

    def take_samples(self, count: int) -> AudioFrame:
        values = (np.arange(self._next_sample, self._next_sample + count) % COUNTER_WRAP) + 1
        self._next_sample += count
        return AudioFrame(values.astype("<i2").tobytes(), self.sample_rate)

    async def synthesize(self, text: str) -> AsyncGenerator[TTSChunk, None]:
        tts = self.tts
        tts.segments.append(text)
        loop = asyncio.get_running_loop()
        words = text.split()
        total = round(len(words) * tts.word_duration * tts.sample_rate)
        per_chunk = max(1, round(tts.chunk_duration * tts.sample_rate))
        timings = [
            TimedWord(w, i * tts.word_duration, (i + 1) * tts.word_duration)
            for i, w in enumerate(words)
        ]
        cancelled_at: float | None = None
        sent = 0
        while sent < total:
            latency = tts.chunk_latency if sent else tts.first_byte_latency
            try:
                await asyncio.sleep(latency)
            except asyncio.CancelledError:
                if tts.linger_after_cancel <= 0:
                    raise
                cancelled_at = loop.time() if cancelled_at is None else cancelled_at
            if cancelled_at is not None:
                if loop.time() - cancelled_at >= tts.linger_after_cancel:
                    raise asyncio.CancelledError
                tts.chunks_after_cancel += 1
            await strike(tts.faults, "fake tts", self.call, self.produced)
            count = min(per_chunk, total - sent)
            start, end = sent / tts.sample_rate, (sent + count) / tts.sample_rate
            chunk_words = tuple(w for w in timings if start <= w.start < end)
            sent += count
            self.produced += 1
            yield TTSChunk(self.take_samples(count), chunk_words if tts.word_timings else ())
        if cancelled_at is not None:
            raise asyncio.CancelledError


class _FakeTTSStream(SegmentTTSStream):
    def __init__(self, call: _FakeTTSCall) -> None:
        super().__init__(call)
        self._fake = call.tts

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await slow_close(self._fake.close_delay)
        await super().aclose()
        self._fake.closes.append((started, loop.time()))
