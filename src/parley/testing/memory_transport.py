"""An in-memory transport with a scripted caller and a simulated listener.

For tests, demos and load runs without a network. The caller sends audio frames at real-time
pace (on whatever clock the event loop keeps, virtual in tests); the listener plays agent
frames back to back like a client's playback buffer and honours clears, so what it "heard"
is exactly what a person on the line would have heard. Everything is recorded with times.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from parley import timing
from parley.audio.frames import AudioFrame
from parley.audio.resample import resample
from parley.events import SessionEvent
from parley.session.port import Hangup, InboundItem, OutboundAudio, Transport

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class Played:
    """A frame the listener played, and when it started."""

    at: float
    frame: OutboundAudio


class SimulatedListener:
    """A playback buffer: frames play in order, each for its duration; clear drops the rest.

    Frame-granular, like the scheduler: a frame that started playing counts as heard.
    """

    def __init__(self) -> None:
        self._queue: deque[Played] = deque()
        self._free_at = 0.0
        self.heard: list[Played] = []
        self.dropped: list[OutboundAudio] = []

    def enqueue(self, now: float, frame: OutboundAudio) -> None:
        self._settle(now)
        starts = max(now, self._free_at)
        self._queue.append(Played(starts, frame))
        self._free_at = starts + frame.audio.duration

    def clear(self, now: float) -> None:
        self._settle(now)
        self.dropped.extend(p.frame for p in self._queue)
        self._queue.clear()
        self._free_at = now

    def settle(self, now: float) -> None:
        self._settle(now)

    def _settle(self, now: float) -> None:
        while self._queue and self._queue[0].at <= now:
            self.heard.append(self._queue.popleft())

    def heard_samples(self, response_id: str | None = None) -> np.ndarray:
        frames = [
            p.frame.audio.pcm for p in self.heard if response_id in (None, p.frame.response_id)
        ]
        return np.frombuffer(b"".join(frames), dtype="<i2")


class MemoryTransport(Transport):
    def __init__(self, output_sample_rate: int = 16000) -> None:
        self.output_sample_rate = output_sample_rate
        self._inbound: asyncio.Queue[InboundItem | None] = asyncio.Queue()
        self.listener = SimulatedListener()
        self.sent: list[tuple[float, OutboundAudio]] = []
        self.clears: list[float] = []
        self.events: list[tuple[float, SessionEvent]] = []
        self.hangup_received_at: float | None = None  # when the session took the Hangup
        self.closed = False

    # --- the caller's side ----------------------------------------------------------------

    def feed(self, item: InboundItem | None) -> None:
        self._inbound.put_nowait(item)

    # --- the session's side ---------------------------------------------------------------

    async def receive(self) -> InboundItem | None:
        item = await self._inbound.get()
        if isinstance(item, Hangup) and self.hangup_received_at is None:
            self.hangup_received_at = timing.now()
        return item

    def send_audio(self, frame: OutboundAudio) -> None:
        now = timing.now()
        self.sent.append((now, frame))
        self.listener.enqueue(now, frame)

    def clear_audio(self) -> None:
        now = timing.now()
        self.clears.append(now)
        self.listener.clear(now)

    def send_event(self, event: SessionEvent) -> None:
        self.events.append((timing.now(), event))

    async def aclose(self) -> None:
        self.closed = True

    def events_of(self, kind: type[E]) -> list[tuple[float, E]]:
        return [(t, e) for t, e in self.events if isinstance(e, kind)]


# --- the scripted caller ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Say:
    """Voiced audio for `duration` s; `text` is what a scripted STT will hear in it."""

    text: str
    duration: float


@dataclass(frozen=True, slots=True)
class Noise:
    """Voiced audio with no words (a cough, a door): the STT hears nothing or "" in it."""

    duration: float
    transcript: str | None = None


@dataclass(frozen=True, slots=True)
class Silence:
    duration: float


@dataclass(frozen=True, slots=True)
class Play:
    """Real audio (a recording, synthesized speech), sent frame by frame."""

    audio: AudioFrame
    transcript: str | None = None  # what a scripted STT hears in it


@dataclass(frozen=True, slots=True)
class Wait:
    """Silence until `until(transport)` holds (checked every frame), then `then` s more."""

    until: Callable[[MemoryTransport], bool]
    then: float = 0.0
    limit: float = 120.0


@dataclass(frozen=True, slots=True)
class HangUp:
    reason: str = "caller hung up"


Step = Say | Noise | Silence | Play | Wait | HangUp


def stt_script(steps: Sequence[Step]) -> list[str | None]:
    """What a scripted STT should hear, one entry per voiced step (each must be its own
    VAD segment: separate voiced steps by more than the turn-ending silence)."""
    return [
        s.text if isinstance(s, Say) else s.transcript for s in steps if isinstance(s, Say | Noise)
    ]


class ScriptedCaller:
    """Plays a script into a MemoryTransport in real time, in fixed frames."""

    def __init__(
        self,
        transport: MemoryTransport,
        steps: Sequence[Step],
        *,
        sample_rate: int = 16000,
        frame_duration: float = 0.02,
        level_dbfs: float = -20.0,
    ) -> None:
        self.transport = transport
        self.steps = tuple(steps)
        self.sample_rate = sample_rate
        self.frame_samples = round(frame_duration * sample_rate)
        self.frame_duration = self.frame_samples / sample_rate
        amplitude = 10 ** (level_dbfs / 20) * np.sqrt(2)
        t = np.arange(self.frame_samples) / sample_rate
        tone = amplitude * np.sin(2 * np.pi * 200.0 * t)  # a whole number of cycles per frame
        self._voiced = AudioFrame.from_float(tone, sample_rate)
        self._silent = AudioFrame.silence(self.frame_duration, sample_rate)
        self.frames_sent = 0
        self.started_at = 0.0
        self.marks: dict[str, float] = {}  # "step N start" -> time the step's first frame left

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.started_at = loop.time()
        for index, step in enumerate(self.steps):
            self.marks[f"step {index}"] = self.started_at + self.frames_sent * self.frame_duration
            if isinstance(step, HangUp):
                await self._sleep_until_frame(self.frames_sent)
                self.transport.feed(Hangup(step.reason))
                return
            if isinstance(step, Wait):
                await self._wait(step)
                continue
            if isinstance(step, Play):
                await self._play(step.audio)
                continue
            frame = self._silent if isinstance(step, Silence) else self._voiced
            await self._send(frame, round(step.duration / self.frame_duration))

    async def _send(self, frame: AudioFrame, count: int) -> None:
        for _ in range(count):
            # A frame leaves when its last sample has been captured, as from a microphone.
            await self._sleep_until_frame(self.frames_sent + 1)
            self.transport.feed(frame)
            self.frames_sent += 1

    async def _play(self, audio: AudioFrame) -> None:
        if audio.sample_rate != self.sample_rate:
            audio = resample(audio, self.sample_rate)
        size = self.frame_samples * 2
        pcm = audio.pcm + bytes(-len(audio.pcm) % size)  # pad the last frame with silence
        for start in range(0, len(pcm), size):
            await self._sleep_until_frame(self.frames_sent + 1)
            self.transport.feed(AudioFrame(pcm[start : start + size], self.sample_rate))
            self.frames_sent += 1

    async def _wait(self, step: Wait) -> None:
        for _ in range(round(step.limit / self.frame_duration)):
            if step.until(self.transport):
                await self._send(self._silent, round(step.then / self.frame_duration))
                return
            await self._send(self._silent, 1)
        raise TimeoutError(f"the caller waited {step.limit:g} s in vain")

    async def _sleep_until_frame(self, index: int) -> None:
        loop = asyncio.get_running_loop()
        due = self.started_at + index * self.frame_duration
        if due > loop.time():
            await asyncio.sleep(due - loop.time())

    def step_start(self, index: int) -> float:
        return self.marks[f"step {index}"]
