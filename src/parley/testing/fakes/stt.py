"""A scripted streaming STT.

Each speech segment (from the VAD's start hint to its end hint) takes the next utterance of
the script: a text, "" for noise that yields an empty final, or None for noise the STT says
nothing about at all; past the end of the script, every segment is `unscripted_text`. While
the segment's audio arrives, partials reveal its words at `words_per_second`; the end hint is
answered after `final_latency` by the final, marked complete. It records when frames reached
it, which is how tests measure input gaps: the latest `arrivals_kept` times, a count and the
longest gap, so a server that runs the fakes for days (load tests, `--stt fake`) holds a fixed
amount, not a float per frame. `per_call()` gives one call a log of its own (the benchmark
servers), since a shared log mixes the frames of concurrent calls.
"""

from __future__ import annotations

import asyncio
import copy
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import STT, STTStream, Transcript, close_generator
from parley.testing.fakes.faults import Fault, slow_close, strike

ARRIVALS_KEPT = 15_000  # 5 minutes of 20 ms frames


class ArrivalLog:
    """When frames reached the STT: how many, the longest gap between two, and the latest
    `keep` arrival times (loop clock)."""

    def __init__(self, keep: int = ARRIVALS_KEPT) -> None:
        self.times: deque[float] = deque(maxlen=keep)
        self.frames = 0
        self.max_gap: float | None = None  # None until two frames have arrived
        self._last: float | None = None

    def note(self, now: float) -> None:
        if self._last is not None:
            gap = now - self._last
            if self.max_gap is None or gap > self.max_gap:
                self.max_gap = gap
        self._last = now
        self.frames += 1
        self.times.append(now)


class FakeSTT(STT):
    name = "fake"

    def __init__(
        self,
        utterances: Sequence[str | None] = (),
        *,
        sample_rate: int = 16000,
        final_latency: float = 0.15,
        partial_interval: float | None = 0.25,
        words_per_second: float = 3.0,
        faults: Sequence[Fault] = (),
        close_delay: float = 0.0,
        unscripted_text: str | None = "",
        arrivals_kept: int = ARRIVALS_KEPT,
    ) -> None:
        self.sample_rate = sample_rate
        self.unscripted_text = unscripted_text
        self.final_latency = final_latency
        self.partial_interval = partial_interval
        self.words_per_second = words_per_second
        self.faults = tuple(faults)
        self.close_delay = close_delay
        self._script: deque[str | None] = deque(utterances)
        self.arrival_log = ArrivalLog(arrivals_kept)
        self.samples_received = 0
        self.streams_opened = 0

    @property
    def arrivals(self) -> deque[float]:
        """Loop time at which each of the latest frames reached the STT, oldest first."""
        return self.arrival_log.times

    def per_call(self) -> FakeSTT:
        """A view for one call: the same script and settings, its own arrival log and counts."""
        view = copy.copy(self)
        view.arrival_log = ArrivalLog(self.arrival_log.times.maxlen or 0)
        view.samples_received = view.streams_opened = 0
        return view

    def add_utterances(self, utterances: Sequence[str | None]) -> None:
        self._script.extend(utterances)

    def next_utterance(self) -> str | None:
        return self._script.popleft() if self._script else self.unscripted_text

    def stream(self, policy: TurnTakingPolicy) -> STTStream:
        self.streams_opened += 1
        return FakeSTTStream(self, self.streams_opened)


class FakeSTTStream(STTStream):
    def __init__(self, stt: FakeSTT, call: int) -> None:
        self._stt = stt
        self._call = call
        self._pending: asyncio.Queue[tuple[float, Transcript]] = asyncio.Queue()
        self._words: list[str] | None = None  # the current segment's words (None: silent)
        self._capturing = False
        self._heard = 0.0  # seconds of the current segment heard so far
        self._last_partial = 0.0
        self._shown = 0  # words shown in partials so far
        self._iterator = self._transcripts()

    def push_audio(self, frame: AudioFrame) -> None:
        loop = asyncio.get_running_loop()
        self._stt.arrival_log.note(loop.time())
        self._stt.samples_received += frame.samples
        if not self._capturing or not self._words or self._stt.partial_interval is None:
            return
        self._heard += frame.duration
        if self._heard - self._last_partial < self._stt.partial_interval:
            return
        self._last_partial = self._heard
        shown = min(len(self._words), int(self._heard * self._stt.words_per_second))
        if shown > self._shown:
            self._shown = shown
            self._pending.put_nowait(
                (loop.time(), Transcript(" ".join(self._words[:shown]), False))
            )

    def speech_started(self) -> None:
        text = self._stt.next_utterance()
        self._words = None if text is None else text.split()
        self._capturing = True
        self._heard = self._last_partial = 0.0
        self._shown = 0

    def speech_ended(self) -> None:
        if not self._capturing:
            return
        self._capturing = False
        if self._words is None:
            return  # noise the STT ignores entirely
        due = asyncio.get_running_loop().time() + self._stt.final_latency
        self._pending.put_nowait((due, Transcript(" ".join(self._words), True, True)))

    def __aiter__(self) -> AsyncIterator[Transcript]:
        return self._iterator

    async def _transcripts(self) -> AsyncGenerator[Transcript, None]:
        loop = asyncio.get_running_loop()
        produced = 0
        while True:
            due, transcript = await self._pending.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            await strike(self._stt.faults, "fake stt", self._call, produced)
            yield transcript
            produced += 1

    async def aclose(self) -> None:
        await slow_close(self._stt.close_delay)
        await close_generator(self._iterator)
