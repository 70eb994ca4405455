"""Streaming STT on top of a provider that only transcribes whole utterances.

The local VAD's hints cut the audio: capture starts `prefix_padding_ms` before the speech
start hint (from a small ring of recent audio) and ends at the speech end hint, which is
answered by one final transcript marked complete.

Speculation hides the provider's latency inside the turn-ending silence: once the speech has
been quiet for `speculation_delay` seconds, the audio so far is transcribed at once. If the
person goes on (a resume hint), the guess is discarded; if the turn ends with nothing new, the
guess is the answer, often ready the moment the silence completes.

Partials while the agent is paused: the session says when the person's speech has paused the
agent (`agent_paused`). Only then do words decide at once (a backchannel resumes the agent,
other words interrupt it), so only then is the audio so far transcribed as the person speaks:
first after `paused_partial_delay` seconds of speech, then every `paused_partial_interval`,
and again the moment the speech goes quiet (that run is also the speculative guess, so the
final costs no extra run). Each run's words come out as a partial transcript. Runs cost the
provider a whole transcription each (Whisper pads every input to 30 s) and its model is shared
across calls, so a stream never has more than one run in flight: a partial falls due only
while none is, and the newest audio wins. The final still covers all the speech and decides.

Transcription runs inside the stream's iterator, which the session consumes in a task it
owns; pushing audio never waits for it.

An utterance keeps at most its last `MAX_CAPTURE_S` seconds: the capture grows with what the
client sends for as long as the VAD hears speech, so a caller sending loud noise for an hour
would otherwise hold 115 MB of it (16 kHz) and have every guess copy all of it.

Queued runs are bounded too, since each holds a copy of its audio and a shared model can fall
behind the speech of many calls: at most `MAX_QUEUED_RUNS` wait. Past that, runs that can no
longer matter (guesses talked past, partials overtaken) go first; then the oldest utterance
is answered with no words (logged), as a transcription that never came would be.
"""

from __future__ import annotations

import asyncio
import logging
from abc import abstractmethod
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import STT, STTStream, Transcript, close_generator

MAX_CAPTURE_S = 60.0  # longer than a turn needs; Whisper hears 30 s windows
MAX_QUEUED_RUNS = 4  # queued jobs that carry audio: a final, a guess, a partial, one more

log = logging.getLogger("parley.stt")


class UtteranceSTT(STT):
    """Implement `transcribe`; get a streaming interface for free."""

    speculation_delay: float | None = None  # seconds of quiet before guessing; None: never
    # While the agent is paused by speech: seconds of speech before the first partial
    # (None: no partials), then the interval between the starts of later ones.
    paused_partial_delay: float | None = None
    paused_partial_interval: float = 0.3

    @abstractmethod
    async def transcribe(self, audio: AudioFrame) -> str:
        """Text of one utterance (may be empty)."""

    def stream(self, policy: TurnTakingPolicy) -> STTStream:
        return UtteranceSTTStream(self, policy)


@dataclass(frozen=True, slots=True)
class _Job:
    audio: AudioFrame | None  # None: answer with the live speculative guess
    guess: int | None = None  # set on speculative jobs: which guess this is
    partial: int | None = None  # set on runs whose words are told as a partial: their serial


class UtteranceSTTStream(STTStream):
    def __init__(self, stt: UtteranceSTT, policy: TurnTakingPolicy) -> None:
        self._stt = stt
        self._prefix = round(policy.prefix_padding_ms * stt.sample_rate / 1000)
        self._ring: deque[bytes] = deque()
        self._ring_samples = 0
        self._capture: deque[bytes] | None = None
        self._capture_bytes = 0
        self._max_capture_bytes = 2 * round(MAX_CAPTURE_S * stt.sample_rate)
        self._quiet_for: float | None = None  # seconds of quiet while capturing
        self._guesses = 0
        self._live_guess: int | None = None  # the guess that covers the capture so far
        self._owed: set[int] = set()  # guesses an ended utterance will be answered with
        self._agent_paused = False
        self._heard = 0  # samples captured since the speech start hint
        self._next_partial = 0  # when (in `_heard`) the next partial falls due
        self._partials = 0  # serial of the newest partial run asked for
        self._running = False  # a transcription is in flight
        self._jobs: deque[_Job] = deque()
        self._job_queued = asyncio.Event()
        self._closed = False
        self._iterator = self._transcripts()
        self.speculations = 0
        self.speculations_used = 0
        self.partial_runs = 0  # runs made for partials while the agent was paused
        self.shed_utterances = 0  # answered with no words: transcription fell too far behind

    @property
    def capturing(self) -> bool:
        """Between the speech start and end hints."""
        return self._capture is not None

    def push_audio(self, frame: AudioFrame) -> None:
        if self._capture is None:
            self._ring.append(frame.pcm)
            self._ring_samples += frame.samples
            while self._ring and self._ring_samples - len(self._ring[0]) // 2 >= self._prefix:
                self._ring_samples -= len(self._ring.popleft()) // 2
            return
        self._capture.append(frame.pcm)
        self._capture_bytes += len(frame.pcm)
        while self._capture_bytes > self._max_capture_bytes and len(self._capture) > 1:
            self._capture_bytes -= len(self._capture.popleft())
        self._heard += frame.samples
        if self._quiet_for is None:
            if self._partials_wanted() and self._heard >= self._next_partial and self._idle():
                self._next_partial = self._heard + self._samples(self._stt.paused_partial_interval)
                self._start_partial()
            return
        delay = self._stt.speculation_delay
        if delay is None or self._live_guess is not None:
            return
        self._quiet_for += frame.duration
        if self._quiet_for >= delay:
            self._guess()

    def agent_paused(self, paused: bool) -> None:
        self._agent_paused = paused

    def speech_started(self) -> None:
        if self._capture is None:
            self._capture = deque(self._ring)
            self._capture_bytes = sum(map(len, self._capture))
            self._ring.clear()
            self._ring_samples = 0
            self._quiet_for, self._live_guess = None, None
            self._heard = 0
            self._next_partial = self._samples(self._stt.paused_partial_delay or 0.0)

    def speech_paused(self) -> None:
        if self._capture is None:
            return
        self._quiet_for = 0.0
        if self._partials_wanted() and self._live_guess is None:
            self._guess()  # the words so far, at once: a partial now, maybe the final

    def speech_resumed(self) -> None:
        self._quiet_for = None
        self._live_guess = None  # the person went on: any guess is stale

    def speech_ended(self) -> None:
        if self._live_guess is not None:
            self.speculations_used += 1
            self._owed.add(self._live_guess)
            self._put(_Job(None, guess=self._live_guess))
        else:
            self._put(_Job(self._captured()))
        self._capture = None
        self._quiet_for, self._live_guess = None, None

    def _samples(self, seconds: float) -> int:
        return round(seconds * self._stt.sample_rate)

    def _partials_wanted(self) -> bool:
        return self._agent_paused and self._stt.paused_partial_delay is not None

    def _idle(self) -> bool:
        return not self._running and not self._jobs

    def _start_partial(self) -> None:
        self._partials += 1
        self._put(_Job(self._captured(), partial=self._partials))

    def _guess(self) -> None:
        """Transcribe the capture so far speculatively (and as a partial while paused)."""
        self._guesses += 1
        self._live_guess = self._guesses
        self.speculations += 1
        partial = None
        if self._partials_wanted():
            self._partials += 1
            partial = self._partials
        self._put(_Job(self._captured(), guess=self._live_guess, partial=partial))

    def _put(self, job: _Job) -> None:
        self._jobs.append(job)
        self._job_queued.set()
        if sum(queued.audio is not None for queued in self._jobs) > MAX_QUEUED_RUNS:
            self._shed()

    def _shed(self) -> None:
        """Drop the runs that can no longer matter; if that is not enough, answer the oldest
        utterance waiting for a run with no words."""
        self._jobs = deque(j for j in self._jobs if _is_final(j) or self._worth_running(j))
        runs = [i for i, j in enumerate(self._jobs) if j.audio is not None]
        if len(runs) <= MAX_QUEUED_RUNS:
            return
        oldest = runs[0]
        if _is_final(self._jobs[oldest]):  # answer it empty
            self._jobs[oldest] = _Job(None)
        else:  # a guess an ended utterance owes: its answer comes out empty
            del self._jobs[oldest]
        self.shed_utterances += 1
        log.warning(
            "transcription is %d runs behind: an utterance is answered with no words", len(runs)
        )

    async def _next_job(self) -> _Job | None:
        while not self._jobs:
            if self._closed:
                return None
            self._job_queued.clear()
            await self._job_queued.wait()
        return self._jobs.popleft()

    def _captured(self) -> AudioFrame:
        return AudioFrame(b"".join(self._capture or ()), self._stt.sample_rate)

    def __aiter__(self) -> AsyncIterator[Transcript]:
        return self._iterator

    async def _run(self, audio: AudioFrame) -> str:
        self._running = True
        try:
            return (await self._stt.transcribe(audio) if audio.samples else "").strip()
        finally:
            self._running = False

    def _worth_running(self, job: _Job) -> bool:
        if job.guess is not None:
            # Still live, or its utterance ended on it: worth the compute. A guess the
            # person talked past is skipped, unless it is already running.
            return job.guess == self._live_guess or job.guess in self._owed
        # A partial only while the agent waits for words, and only the newest asked for.
        return self._agent_paused and job.partial == self._partials

    async def _transcripts(self) -> AsyncGenerator[Transcript, None]:
        guessed: tuple[int, str] | None = None  # (guess number, its text)
        while (job := await self._next_job()) is not None:
            if job.audio is None:  # answer with the guess (its job ran before this one)
                text = guessed[1] if guessed and guessed[0] == job.guess else ""
                self._owed.discard(job.guess or 0)
                yield Transcript(text, final=True, complete=True)
            elif _is_final(job):
                yield Transcript(await self._run(job.audio), final=True, complete=True)
            elif self._worth_running(job):
                if job.partial is not None:
                    self.partial_runs += 1
                text = await self._run(job.audio)
                if job.guess is not None:
                    guessed = (job.guess, text)
                if job.partial is not None and text:
                    yield Transcript(text, final=False)

    async def aclose(self) -> None:
        self._closed = True
        self._jobs.clear()
        self._job_queued.set()
        await close_generator(self._iterator)


def _is_final(job: _Job) -> bool:
    """An utterance's answer: a run of its audio, or the guess it ended on (no audio)."""
    return (job.guess is None and job.partial is None) or job.audio is None
