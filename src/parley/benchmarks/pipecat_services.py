"""parley's fake providers as Pipecat services, for the side-by-side benchmark.

The same FakeSTT, FakeLLM and FakeTTS objects (built by the same factories from the same
settings) serve both frameworks, so both wait exactly as long for every transcript, token and
chunk, and hang or close slowly in exactly the same way. Each adapter follows the shape of
Pipecat's own services:

- STT works like Pipecat's streaming (websocket) STT services: audio is handed over without
  waiting, and a reader task pushes transcripts as they arrive. The VAD's start and stop
  frames are the fake's speech hints, as parley's VAD gives them.
- The LLM works like Pipecat's OpenAI service: the context frame is answered in
  `process_frame`, between LLMFullResponseStart/End frames, token by token.
- TTS turns each sentence into audio frames in `run_tts` via
  `_stream_audio_frames_from_iterator` (like Pipecat's Piper service), and holds one provider
  stream per response, closed where Pipecat's websocket TTS services close theirs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterimTranscriptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    StartFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import TTSSettings
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.utils.time import time_now_iso8601

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import STTStream
from parley.testing.fakes import FakeLLM, FakeSTT, FakeTTS
from parley.testing.fakes.faults import slow_close
from parley.types import ChatMessage, Role

_ROLES: dict[str, Role] = {"system": "system", "user": "user", "assistant": "assistant"}


class FakeSTTService(STTService):
    def __init__(self, fake: FakeSTT, policy: TurnTakingPolicy, **kwargs: Any) -> None:
        # The fake's final latency is its p99: Pipecat's turn strategy uses it as its wait.
        super().__init__(ttfs_p99_latency=fake.final_latency, **kwargs)
        self._fake = fake
        self._policy = policy
        self._stream: STTStream | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        self._stream = self._fake.stream(self._policy)
        self._reader = self.create_task(self._read_transcripts(self._stream), "fake stt reader")

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)
        await self._close()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        await self._close()

    async def _close(self) -> None:
        if self._reader is not None:
            await self.cancel_task(self._reader)
            self._reader = None
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.aclose()

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        if self._stream is not None:
            self._stream.push_audio(AudioFrame(audio, self.sample_rate))
        yield None

    async def _handle_vad_user_started_speaking(self, frame: VADUserStartedSpeakingFrame) -> None:
        await super()._handle_vad_user_started_speaking(frame)
        if self._stream is not None:
            self._stream.speech_started()

    async def _handle_vad_user_stopped_speaking(self, frame: VADUserStoppedSpeakingFrame) -> None:
        await super()._handle_vad_user_stopped_speaking(frame)
        if self._stream is not None:
            self._stream.speech_ended()

    async def _read_transcripts(self, stream: STTStream) -> None:
        async for transcript in stream:
            if transcript.final:
                await self.push_frame(
                    TranscriptionFrame(transcript.text, "", time_now_iso8601(), finalized=True)
                )
            else:
                await self.push_frame(InterimTranscriptionFrame(transcript.text, "", ""))


class FakeLLMService(LLMService):
    def __init__(self, fake: FakeLLM, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fake = fake

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
            return
        await self.push_frame(LLMFullResponseStartFrame())
        await self.start_processing_metrics()
        try:
            messages = chat_messages(frame.context.get_messages())
            await self.start_ttfb_metrics()
            async for token in self._fake.stream(messages):
                await self.stop_ttfb_metrics()
                await self._push_llm_text(token)
        finally:
            await self.stop_processing_metrics()
            await self.push_frame(LLMFullResponseEndFrame())


class FakeTTSService(TTSService):
    """One provider stream per audio context (a response), closed when the context is
    interrupted or completed, or the call ends: the points where Pipecat's websocket TTS
    services close a context or their connection. Each close takes the fake's close_delay,
    as closing parley's fake TTS stream does. Pipecat awaits `on_audio_context_interrupted`
    inline during an interruption, and its real websocket services only send a cancel
    message there, so a slow close in that hook models a send that stalls (see
    docs/benchmarks.md, "Found by the benchmark")."""

    def __init__(self, fake: FakeTTS, **kwargs: Any) -> None:
        settings = TTSSettings(model=None, voice=None, language=None)
        super().__init__(push_start_frame=True, push_stop_frames=True, settings=settings, **kwargs)
        self._fake = fake
        self._open: set[str] = set()  # contexts whose provider stream is open

    def can_generate_metrics(self) -> bool:
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        self._open.add(context_id)
        await self.start_tts_usage_metrics(text)
        frames = self._stream_audio_frames_from_iterator(
            self._pcm(text), in_sample_rate=self._fake.sample_rate, context_id=context_id
        )
        async for frame in frames:
            await self.stop_ttfb_metrics()
            yield frame

    async def _pcm(self, text: str) -> AsyncIterator[bytes]:
        async for chunk in self._fake.synthesize(text):
            yield chunk.audio.pcm

    async def on_audio_context_interrupted(self, context_id: str) -> None:
        await super().on_audio_context_interrupted(context_id)
        await self._close_stream(context_id)

    async def on_audio_context_completed(self, context_id: str) -> None:
        await super().on_audio_context_completed(context_id)
        await self._close_stream(context_id)

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)
        await self._close_all()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        await self._close_all()

    async def _close_all(self) -> None:
        for context_id in list(self._open):
            await self._close_stream(context_id)

    async def _close_stream(self, context_id: str) -> None:
        if context_id in self._open:
            self._open.discard(context_id)
            await slow_close(self._fake.close_delay)


def chat_messages(messages: list[Any]) -> list[ChatMessage]:
    """Pipecat's context messages (OpenAI-style dicts) as parley's chat messages."""
    converted = []
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        role = _ROLES.get(str(message.get("role", "")))
        content = message.get("content", "")
        if isinstance(content, list):  # content parts: keep the text ones
            content = " ".join(
                str(p["text"]) for p in content if isinstance(p, Mapping) and "text" in p
            )
        if role is not None:
            converted.append(ChatMessage(role, str(content)))
    return converted
