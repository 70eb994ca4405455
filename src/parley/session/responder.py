"""The responder: LLM stream -> segment splitter -> TTS stream -> playout, per response.

Each response runs in tasks the supervisor owns; cancelling them is a `task.cancel()` handed
to the supervisor, which bounds how long the providers may take to let go. The audio they
produce is tagged with the response id, and the playout scheduler drops it if the response
is no longer current: a provider that ignores cancellation cannot be heard (invariant 3).

With tools, the LLM may ask for functions instead of (or after) words: the writer has the
tool runner (session/tools/runner.py) run them, then asks the LLM again with the calls and
their results, in the same response; what it says then is spoken as the rest of it.
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
from parley.providers.base import LLM, TTS, LLMOutput, TTSStream
from parley.session.output import PlayoutScheduler
from parley.session.recorder import TurnRecorder
from parley.session.splitter import SentenceSplitter
from parley.session.supervisor import Supervisor, close_within
from parley.session.text_only import TextOnlyStream
from parley.session.tools.runner import ToolRunner
from parley.session.usage import UsageCounter
from parley.types import ChatMessage, TokenUsage, ToolCall

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
        tools: ToolRunner | None = None,
    ) -> None:
        self._llm = llm
        self._tools = tools
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
        # Held (preemptive) responses: their transcript events wait for release.
        self._held: dict[str, list[SessionEvent]] = {}
        # A held response that wants tools waits for its release first: a tool may act (book,
        # transfer), and an answer that is dropped unheard must not have acted.
        self._released: dict[str, asyncio.Event] = {}

    def start(
        self,
        response_id: str,
        messages: Sequence[ChatMessage],
        *,
        held: bool = False,
        text_only: bool = False,
        script: str | None = None,
    ) -> None:
        """Two tasks per response, each closing the stream it reads: the writer feeds LLM
        text to TTS, the player feeds TTS audio to the output. No TaskGroup joins them, so a
        second cancel from the supervisor reaches each one directly. A `held` response tells
        clients nothing until `release`. A text-only response has a stand-in for the TTS
        (session/text_only.py)."""
        if held:
            self._held[response_id] = []
            self._released[response_id] = asyncio.Event()
        llm_stream = self._ask(messages) if script is None else _scripted(script)
        tts_stream: TTSStream = (
            TextOnlyStream(response_id, self._notify)
            if text_only
            else self._tts.stream(self._output.sample_rate)
        )
        spawn = self._supervisor.spawn
        write = self._write(response_id, messages, llm_stream, tts_stream)
        writer = spawn(f"{response_id} llm->tts", write)
        player = spawn(f"{response_id} tts->out", self._play(response_id, tts_stream))
        self._tasks[response_id] = (writer, player)
        self._speech = (response_id, tts_stream)
        player.add_done_callback(lambda _: self._finished(response_id))

    def release(self, response_id: str) -> None:
        """The held response is the answer after all: what it said so far reaches clients."""
        for event in self._held.pop(response_id, ()):
            self._emit(event)
        released = self._released.pop(response_id, None)
        if released is not None:
            released.set()

    def cancel(self, response_id: str, played: float) -> None:
        """Stop generating now; the providers are closed in the background, with a deadline.
        The TTS stream first learns how much of it was heard (`played` seconds)."""
        self._held.pop(response_id, None)
        self._released.pop(response_id, None)
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
        self._released.pop(response_id, None)
        for task in self._tasks.pop(response_id, ()):
            self._supervisor.retire(task)

    def _ask(self, messages: Sequence[ChatMessage]) -> AsyncIterator[LLMOutput]:
        if self._tools is not None and self._tools.specs:
            tools = self._tools
            return self._llm.stream_with_tools(messages, tools.specs, tools.tool_choice)
        return self._llm.stream_with_tools(messages, ())

    async def _write(
        self,
        response_id: str,
        messages: Sequence[ChatMessage],
        llm_stream: AsyncIterator[LLMOutput],
        tts_stream: TTSStream,
    ) -> None:
        """LLM text -> segments -> TTS. An LLM failure ends the text: what came is spoken.
        Tool calls run after the text that came before them is said; the LLM is then asked
        again with their results (up to the tool box's max_rounds)."""
        splitter = SentenceSplitter()
        usage = UsageCounter()
        first = True
        rounds = 0
        while True:
            said: list[str] = []
            calls: list[ToolCall] = []
            try:
                async for delta in llm_stream:
                    if isinstance(delta, ToolCall):
                        calls.append(delta)
                        continue
                    if isinstance(delta, TokenUsage):
                        usage.reported(delta)
                        continue
                    if first:
                        self._recorder.mark(response_id, "llm_first_token", timing.now())
                        first = False
                    said.append(delta)
                    for start in range(0, len(delta), _SLICE):
                        if start:  # a huge delta: the loop runs between slices (invariant 11)
                            await asyncio.sleep(0)
                        for segment in splitter.push(delta[start : start + _SLICE]):
                            self._say(response_id, segment, tts_stream)
            except Exception as exc:
                self._fail(response_id, "llm", exc)
                calls = []
            finally:
                closing = _aclose(llm_stream)
                await close_within(closing, self._supervisor.deadline, "LLM stream close")
            written = "".join(said) + "".join(c.name + c.arguments for c in calls)
            usage.request_done(messages, written)
            if not calls or self._tools is None:
                break
            released = self._released.get(response_id)
            if released is not None:  # held: act only once the answer is really given
                await released.wait()
            theirs = self._tools.for_client(calls)
            ours = [call for call in calls if call not in theirs]
            if ours and rounds < self._tools.box.max_rounds:
                rounds += 1
                for segment in splitter.flush():  # what came before the calls is said first
                    self._say(response_id, segment, tts_stream)
                exchange = await self._tools.run(
                    response_id, ours, lambda filler: self._say(response_id, filler, tts_stream)
                )
                # The model reads its own words before the calls with them, so it goes on.
                asked = ChatMessage("assistant", "".join(said), tool_calls=exchange[0].tool_calls)
                messages = (*messages, asked, *exchange[1:])
                if not theirs:
                    llm_stream = self._ask(messages)
                    continue
            if theirs:  # the client runs them and asks for the next response itself
                self._tools.hand_over(response_id, theirs)
            break
        for segment in splitter.flush():
            self._say(response_id, segment, tts_stream)
        self._emit(usage.event(response_id))
        tts_stream.end_input()

    def _say(self, response_id: str, segment: str, tts_stream: TTSStream) -> None:
        tts_stream.push_text(segment)
        event = AgentTranscript(response_id, segment)
        held = self._held.get(response_id)
        if held is not None:
            held.append(event)
        else:
            self._emit(event)

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


async def _aclose(stream: AsyncIterator[LLMOutput]) -> None:
    closer = getattr(stream, "aclose", None)
    if closer is not None:
        with contextlib.suppress(RuntimeError):  # "already running": it is being torn down
            await closer()


async def _scripted(text: str) -> AsyncIterator[LLMOutput]:
    """A response whose text is given (say): spoken as it is, no LLM asked."""
    yield text
