"""The responder: LLM stream -> segment splitter -> TTS stream -> playout, per response.

Each response runs in tasks the supervisor owns; cancelling them is a `task.cancel()` handed
to the supervisor, which bounds how long the providers may take to let go. The audio they
produce is tagged with the response id, and the playout scheduler drops it if the response
is no longer current: a provider that ignores cancellation cannot be heard (invariant 3).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from parley import timing
from parley.audio.frames import AudioFrame
from parley.audio.resample import StreamResampler
from parley.conversation.inputs import (
    ConversationInput,
    ResponseFailed,
    ResponseStage,
    WordsAligned,
)
from parley.events import AgentTranscript, SessionEvent
from parley.providers.base import LLM, TTS, TTSStream
from parley.session.output import PlayoutScheduler
from parley.session.recorder import TurnRecorder
from parley.session.splitter import SentenceSplitter
from parley.session.supervisor import Supervisor, close_within
from parley.types import ChatMessage

_SLICE = 4096  # characters of LLM text split at a time: about a millisecond of splitting


class Responder:
    def __init__(
        self,
        llm: LLM,
        tts: TTS,
        output: PlayoutScheduler,
        supervisor: Supervisor,
        recorder: TurnRecorder,
        notify: Callable[[ConversationInput], None],
        emit: Callable[[SessionEvent], None],
    ) -> None:
        self._llm = llm
        self._tts = tts
        self._output = output
        self._supervisor = supervisor
        self._recorder = recorder
        self._notify = notify
        self._emit = emit
        self._tasks: dict[str, tuple[asyncio.Task[Any], ...]] = {}
        # The latest response's TTS stream: told how much was heard if it is cut short,
        # even after its generation ended (its audio may still be playing).
        self._speech: tuple[str, TTSStream] | None = None

    def start(self, response_id: str, messages: Sequence[ChatMessage]) -> None:
        """Two tasks per response, each closing the stream it reads: the writer feeds LLM
        text to TTS, the player feeds TTS audio to the output. No TaskGroup joins them, so a
        second cancel from the supervisor reaches each one directly."""
        llm_stream = self._llm.stream(messages)
        tts_stream = self._tts.stream(self._output.sample_rate)
        spawn = self._supervisor.spawn
        writer = spawn(f"{response_id} llm->tts", self._write(response_id, llm_stream, tts_stream))
        player = spawn(f"{response_id} tts->out", self._play(response_id, tts_stream))
        self._tasks[response_id] = (writer, player)
        self._speech = (response_id, tts_stream)
        player.add_done_callback(lambda _: self._finished(response_id))

    def cancel(self, response_id: str, played: float) -> None:
        """Stop generating now; the providers are closed in the background, with a deadline.
        The TTS stream first learns how much of it was heard (`played` seconds)."""
        if self._speech is not None and self._speech[0] == response_id:
            tts_stream, self._speech = self._speech[1], None
            try:
                tts_stream.interrupted(played)
            except Exception as exc:  # a provider's bug must not stop the cancellation
                self._fail(response_id, "tts", exc)
        for task in self._tasks.pop(response_id, ()):
            self._supervisor.retire(task)

    def _finished(self, response_id: str) -> None:
        # The player is done, so no more text can be spoken: a writer still running (the TTS
        # ended early or failed) has nothing left to do.
        for task in self._tasks.pop(response_id, ()):
            self._supervisor.retire(task)

    async def _write(
        self, response_id: str, llm_stream: AsyncIterator[str], tts_stream: TTSStream
    ) -> None:
        """LLM text -> segments -> TTS. An LLM failure ends the text: what came is spoken."""
        splitter = SentenceSplitter()
        first = True
        try:
            async for delta in llm_stream:
                if first:
                    self._recorder.mark(response_id, "llm_first_token", timing.now())
                    first = False
                for start in range(0, len(delta), _SLICE):
                    if start:  # a huge delta: the loop runs between slices (invariant 11)
                        await asyncio.sleep(0)
                    for segment in splitter.push(delta[start : start + _SLICE]):
                        self._say(response_id, segment, tts_stream)
        except Exception as exc:
            self._fail(response_id, "llm", exc)
        finally:
            await close_within(_aclose(llm_stream), self._supervisor.deadline, "LLM stream close")
        for segment in splitter.flush():
            self._say(response_id, segment, tts_stream)
        tts_stream.end_input()

    def _say(self, response_id: str, segment: str, tts_stream: TTSStream) -> None:
        tts_stream.push_text(segment)
        self._emit(AgentTranscript(response_id, segment))

    async def _play(self, response_id: str, tts_stream: TTSStream) -> None:
        """TTS chunks -> the output rate -> the playout scheduler, words -> the conversation."""
        resampler: StreamResampler | None = None
        try:
            async for chunk in tts_stream:
                if chunk.audio.samples:
                    if resampler is None or resampler.from_rate != chunk.audio.sample_rate:
                        resampler = StreamResampler(
                            chunk.audio.sample_rate, self._output.sample_rate
                        )
                        self._recorder.mark(response_id, "tts_first_audio", timing.now())
                    self._output.push(response_id, resampler.process(chunk.audio).pcm)
                if chunk.words:
                    self._notify(WordsAligned(timing.now(), response_id, chunk.words))
            if resampler is not None:
                tail = resampler.process(AudioFrame(b"", resampler.from_rate), last=True)
                self._output.push(response_id, tail.pcm)
        except Exception as exc:
            self._fail(response_id, "tts", exc)
        finally:
            self._output.end(response_id)
            await close_within(tts_stream.aclose(), self._supervisor.deadline, "TTS stream close")

    def _fail(self, response_id: str, stage: ResponseStage, error: Exception) -> None:
        message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        self._notify(ResponseFailed(timing.now(), response_id, stage, message))


async def _aclose(stream: AsyncIterator[str]) -> None:
    closer = getattr(stream, "aclose", None)
    if closer is not None:
        with contextlib.suppress(RuntimeError):  # "already running": it is being torn down
            await closer()
