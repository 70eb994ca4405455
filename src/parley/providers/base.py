"""The provider interfaces: VAD, STT, LLM and TTS behind narrow typed seams (invariant 8).

Each is small on purpose. Local models, cloud adapters and scripted fakes all implement
these and nothing else, so the session never knows which one it runs.

Rules every implementation keeps:
- Methods the input path calls (`VADStream.process`, `STTStream.push_audio`, the hints) are
  synchronous and cheap: they buffer and return, they never wait on I/O.
- Streams are async iterators that the session consumes in tasks it owns; closing them may
  hang (a stuck socket), so the session closes them in the background with a deadline.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.scope import SessionScope
from parley.types import ChatMessage, TimedWord, TokenUsage, ToolCall, ToolSpec, spoken_only


class ProviderError(Exception):
    """A provider failed in a way worth telling the person about (bad key, no route...)."""


class Provider(ABC):  # noqa: B024 - the common base of the four kinds, with one optional hook
    name: str = "provider"

    def for_session(self, scope: SessionScope) -> Self:
        """This provider as one session uses it. Most are shared as they are; one that keeps
        per-call state returns a view bound to what it keeps in `scope`."""
        return self


async def close_generator(generator: AsyncGenerator[Any, None]) -> None:
    """Close an async generator unless a task is inside it right now: then that task's
    cancellation closes it, and aclose() would only raise "already running"."""
    if not getattr(generator, "ag_running", False):
        await generator.aclose()


# --- VAD ------------------------------------------------------------------------------------


class VADEventKind(StrEnum):
    START = "start"  # speech began: a decision the conversation acts on
    END = "end"  # the turn-ending silence passed: a decision the conversation acts on
    PAUSE = "pause"  # speech went quiet (may be just a breath): a hint for STT
    RESUME = "resume"  # speech came back before the turn ended: a hint for STT


@dataclass(frozen=True, slots=True)
class VADEvent:
    """A start/stop decision.

    `offset` is a position in the stream's audio, in seconds from its first sample: for START
    the onset (first voiced audio), for END the end of the last voiced audio. The decision
    itself is made at the end of the frame that produced it.
    """

    kind: VADEventKind
    offset: float


@dataclass(frozen=True, slots=True)
class VADOutput:
    probability: float  # speech probability of the latest analysed window
    events: tuple[VADEvent, ...] = ()


class VADStream(ABC):
    """Per-session VAD state. `process` is called for every inbound frame, in order."""

    sample_rate: int

    @abstractmethod
    def process(self, frame: AudioFrame) -> VADOutput:
        """Analyse one frame (any length) and return the decisions it completed."""

    def listen(self, deliver: Callable[[VADOutput | Exception], None]) -> None:  # noqa: B027
        """Take decisions later than `process` returns: a VAD that batches windows across
        streams (one model run per loop iteration) hands them to `deliver` in the same
        order, within one loop iteration of the frame; an exception there is that frame's
        failure. Streams that decide at once ignore this."""

    def close(self) -> None:  # noqa: B027 - most streams hold nothing to release
        """Release per-stream resources."""


class VAD(Provider):
    name: str = "vad"

    @abstractmethod
    def stream(self, policy: TurnTakingPolicy, sample_rate: int) -> VADStream:
        """A stream for audio at `sample_rate` (the session's input rate, the STT's rate);
        a VAD that needs another rate converts inside."""


# --- STT ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transcript:
    """A transcript event. See conversation.inputs.TranscriptReceived for the meanings."""

    text: str
    final: bool
    complete: bool = False


class STTStream(ABC):
    """One session's live transcription. Iterate it for transcripts."""

    @abstractmethod
    def push_audio(self, frame: AudioFrame) -> None:
        """Queue a frame (every inbound frame, silence included). Never blocks."""

    def speech_started(self) -> None:  # noqa: B027 - a hint, ignorable
        """Hint from the local VAD: speech began (the onset was prefix padding ago or less)."""

    def speech_paused(self) -> None:  # noqa: B027 - a hint, ignorable
        """Hint from the local VAD: the speech went quiet; the turn may be ending. A provider
        may start transcribing speculatively (and must discard that if speech resumes)."""

    def speech_resumed(self) -> None:  # noqa: B027 - a hint, ignorable
        """Hint from the local VAD: the speech came back before the turn ended."""

    def speech_ended(self) -> None:  # noqa: B027 - a hint, ignorable
        """Hint from the local VAD: the turn-ending silence passed. Finalize what you have
        and answer with a final marked `complete` (possibly empty)."""

    def agent_paused(self, paused: bool) -> None:  # noqa: B027 - a hint, ignorable
        """Hint from the session: the agent's response is paused (True) and waits for the
        person's words to decide (a backchannel resumes it, other words interrupt it), or no
        longer is (False). Partial transcripts decide at once while it is; a provider that
        pays for each transcription may make partials only then."""

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[Transcript]: ...

    async def aclose(self) -> None:  # noqa: B027 - nothing to close by default
        """Close the connection; may be slow, the session bounds it."""


class STT(Provider):
    name: str = "stt"
    sample_rate: int = 16000  # the rate the session resamples inbound audio to for this STT

    @abstractmethod
    def stream(self, policy: TurnTakingPolicy) -> STTStream: ...


# --- LLM ------------------------------------------------------------------------------------


# A text delta, a function the model asks to run, or (last) the request's token counts
# where the provider reports them.
LLMOutput = str | ToolCall | TokenUsage


class LLM(Provider):
    name: str = "llm"
    # True when `stream_with_tools` offers the tools to the model; the others answer in words.
    supports_tools: bool = False

    @abstractmethod
    def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        """Stream the reply's text deltas. Closing the iterator (aclose) cancels it."""

    def stream_with_tools(
        self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec], tool_choice: str = "auto"
    ) -> AsyncIterator[LLMOutput]:
        """Stream the reply: text deltas, and the tool calls the model makes (each whole,
        arguments complete, once the model has finished writing it). `tool_choice` is "auto",
        "none", "required" or the name of the one function the model must call. A model
        without tool support ignores both and reads the history without function calls and
        results."""
        return self.stream(spoken_only(messages))


# --- TTS ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TTSChunk:
    """Audio of a TTS stream, and the words it can place in that audio.

    Word times are relative to the start of the stream's audio (the whole response), so
    words may arrive in a later chunk than their audio (estimated timings do).
    """

    audio: AudioFrame
    words: tuple[TimedWord, ...] = ()


class TTSStream(ABC):
    """One response's speech. Push text segments, end input, iterate chunks."""

    @abstractmethod
    def push_text(self, text: str) -> None:
        """Queue a segment of text (a clause or sentence). Never blocks."""

    @abstractmethod
    def end_input(self) -> None:
        """No more text: finish the audio, then end the iteration."""

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[TTSChunk]: ...

    def interrupted(self, played: float) -> None:  # noqa: B027 - most TTS need not know
        """The response was cut short after `played` seconds of its audio were heard.

        Called synchronously when the session cancels the response: before the stream is
        cancelled and closed, or after it ended if all its audio had been generated (it may
        still have been playing). A provider that keeps its own copy of the conversation (a
        speech-to-speech session) uses it to forget what the person never heard; it must not
        block.
        """

    async def aclose(self) -> None:  # noqa: B027 - nothing to close by default
        """Cancel synthesis and close; may be slow, the session bounds it."""


class TTS(Provider):
    name: str = "tts"
    sample_rate: int = 16000

    @abstractmethod
    def stream(self, output_rate: int | None = None) -> TTSStream:
        """A stream for one response. `output_rate` is the rate the audio will be played at:
        a provider that can synthesize at it directly should (one resample fewer, and
        ulaw_8000 for phones); chunks carry their actual rate either way."""


# --- turn detection -------------------------------------------------------------------------


class TurnSuperseded(Exception):
    """A newer question took this one's place before the model got to it (not a failure)."""


class TurnDetector(Provider):
    """Judges from the person's audio whether their turn is complete (semantic end-of-turn).

    Optional: without one, turns end by silence alone. `predict` may take tens of
    milliseconds of CPU, so an implementation runs the model off the event loop; the session
    treats an exception, or an answer later than the plain silence policy, as no answer.
    """

    name: str = "turn"

    @abstractmethod
    async def predict(self, audio: AudioFrame) -> float:
        """The probability that the turn in `audio` (the person's latest speech, ending in
        the silence so far, at any rate) is complete. May raise TurnSuperseded."""
