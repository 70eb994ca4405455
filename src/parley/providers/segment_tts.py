"""Streaming TTS on top of a provider that synthesizes one text segment at a time.

Segments are spoken in the order pushed. Word times from the provider are segment-relative
and get rebased onto the stream; a provider that gives none gets estimated timings, spread
over each segment's audio in proportion to the words' lengths (invariant 4's fallback).
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator

from parley.audio.frames import AudioFrame
from parley.providers.base import TTS, TTSChunk, TTSStream, close_generator
from parley.types import TimedWord


class SegmentTTS(TTS):
    """Implement `synthesize`; get a streaming interface for free."""

    @abstractmethod
    def synthesize(self, text: str) -> AsyncIterator[TTSChunk]:
        """Audio of one segment; word times (if any) relative to the segment's start."""

    def synthesize_first(self, text: str) -> AsyncIterator[TTSChunk]:
        """The first segment of a stream, which a listener is waiting for (nothing of the
        answer plays yet). A provider sharing its CPU may give it priority; Piper does."""
        return self.synthesize(text)

    def stream(self, output_rate: int | None = None) -> TTSStream:
        return SegmentTTSStream(self)


def estimate_word_timings(text: str, start: float, duration: float) -> tuple[TimedWord, ...]:
    """Spread `duration` seconds over the words of `text`, by length (a space counts)."""
    words = text.split()
    total = sum(len(w) + 1 for w in words)
    if not words or duration <= 0:
        return ()
    timed: list[TimedWord] = []
    position = start
    for word in words:
        length = duration * (len(word) + 1) / total
        timed.append(TimedWord(word, position, position + length))
        position += length
    return tuple(timed)


class SegmentTTSStream(TTSStream):
    def __init__(self, tts: SegmentTTS) -> None:
        self._tts = tts
        self._segments: asyncio.Queue[str | None] = asyncio.Queue()
        self._iterator = self._chunks()

    def push_text(self, text: str) -> None:
        if text.strip():
            self._segments.put_nowait(text)

    def end_input(self) -> None:
        self._segments.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[TTSChunk]:
        return self._iterator

    async def _chunks(self) -> AsyncGenerator[TTSChunk, None]:
        offset = 0.0
        first = True
        while (text := await self._segments.get()) is not None:
            duration = 0.0
            timed = False
            chunks = self._tts.synthesize_first(text) if first else self._tts.synthesize(text)
            first = False
            async for chunk in chunks:
                timed = timed or bool(chunk.words)
                words = tuple(w.shifted(offset) for w in chunk.words)
                duration += chunk.audio.duration
                yield TTSChunk(chunk.audio, words)
            if not timed:
                estimate = estimate_word_timings(text, offset, duration)
                yield TTSChunk(AudioFrame(b"", self._tts.sample_rate), estimate)
            offset += duration

    async def aclose(self) -> None:
        await close_generator(self._iterator)
