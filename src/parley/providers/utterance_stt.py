"""Streaming STT on top of a provider that only transcribes whole utterances.

The local VAD's hints cut the audio: capture starts `prefix_padding_ms` before the speech
start hint (from a small ring of recent audio) and ends at the speech end hint, which is
answered by one final transcript marked complete. Transcription runs inside the stream's
iterator, which the session consumes in a task it owns; pushing audio never waits for it.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import STT, STTStream, Transcript


class UtteranceSTT(STT):
    """Implement `transcribe`; get a streaming interface for free."""

    @abstractmethod
    async def transcribe(self, audio: AudioFrame) -> str:
        """Text of one utterance (may be empty)."""

    def stream(self, policy: TurnTakingPolicy) -> STTStream:
        return UtteranceSTTStream(self, policy)


class UtteranceSTTStream(STTStream):
    def __init__(self, stt: UtteranceSTT, policy: TurnTakingPolicy) -> None:
        self._stt = stt
        self._prefix_samples = round(policy.prefix_padding_ms * stt.sample_rate / 1000)
        self._ring: deque[bytes] = deque()
        self._ring_samples = 0
        self._capture: list[bytes] | None = None
        self._utterances: asyncio.Queue[AudioFrame | None] = asyncio.Queue()
        self._iterator = self._transcripts()

    def push_audio(self, frame: AudioFrame) -> None:
        if self._capture is not None:
            self._capture.append(frame.pcm)
            return
        self._ring.append(frame.pcm)
        self._ring_samples += frame.samples
        while self._ring and self._ring_samples - len(self._ring[0]) // 2 >= self._prefix_samples:
            self._ring_samples -= len(self._ring.popleft()) // 2

    def speech_started(self) -> None:
        if self._capture is None:
            self._capture = list(self._ring)
            self._ring.clear()
            self._ring_samples = 0

    def speech_ended(self) -> None:
        pcm = b"".join(self._capture or ())
        self._capture = None
        self._utterances.put_nowait(AudioFrame(pcm, self._stt.sample_rate))

    def __aiter__(self) -> AsyncIterator[Transcript]:
        return self._iterator

    async def _transcripts(self) -> AsyncGenerator[Transcript, None]:
        while (audio := await self._utterances.get()) is not None:
            text = await self._stt.transcribe(audio) if audio.samples else ""
            yield Transcript(text.strip(), final=True, complete=True)

    async def aclose(self) -> None:
        self._utterances.put_nowait(None)
        await self._iterator.aclose()
