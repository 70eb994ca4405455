"""A call's recording: one stereo Ogg/Opus file, caller left and agent right, as heard.

The session's audio taps (session/taps.py) hand every caller frame and every agent frame
laid on the listener's timeline to `CallRecording`, which queues them for a writer thread
and returns: nothing here awaits or touches the disk on the event loop (invariant 13). A
queue that fills (a slow disk) drops audio and counts it; it never blocks.

The writer keeps both channels on one timeline whose second 0 is the session's start. Agent
frames go where they start playing; a clear cuts the agent channel at its time, so audio that
was sent ahead but cleared is not in the file, and a resumed response goes on where it plays
again. Because a clear only ever removes audio after its own time, and no agent frame is laid
more than the scheduler's lookahead (at most 0.2 s) ahead of the clock, audio behind the
newest time seen is final: the writer encodes it then, and Ogg pages of 200 ms reach the file
as they fill, so a crash loses at most the last fraction of a second (docs/recordings.md).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

import numpy as np
import numpy.typing as npt

from parley import timing
from parley.audio.frames import AudioFrame
from parley.audio.resample import StreamResampler
from parley.events import SessionEnded, SessionEvent
from parley.problems import ProblemCounter

if TYPE_CHECKING:
    from parley.session import Session

log = logging.getLogger("parley.records")

RECORDING_SUFFIX = ".ogg"
RECORDING_MEDIA_TYPE = "audio/ogg"
RATE = 24000  # the file's rate: Opus takes 24 kHz as is, and TTS voices reach ~11 kHz
BIT_RATE = 24000  # stereo Opus, speech on both channels: ~250 KiB a minute (measured)
COMPLEXITY = "5"  # libopus 0-10: 5 encodes 4x faster than the default 10 (docs/recordings.md)
QUEUE_SIZE = 1000  # pieces of audio (~10 s of a call: 50 caller + 50 agent frames a second)

_CHUNK = RATE // 50  # 20 ms, one Opus frame
_PAGE_US = "200000"  # an Ogg page at least every 200 ms: what a crash can lose
_LOOKAHEAD = 0.2  # the output scheduler's bound on how far ahead of now agent audio is laid
_CALLER_SLACK = 0.2  # caller frames within this of where the last one ended join it
_AGENT_SLACK = 0.005

_Kind = Literal["caller", "agent", "cut"]
_Item = tuple[_Kind, float, AudioFrame | None]


def start_recording(session: Session, path: Path) -> CallRecording:
    """Record `session` into `path` from now until it ends (or `aclose`). Second 0 of the file
    is `session.started_at`, set here if the session has not started yet."""
    if session.started_at is None:
        session.started_at = timing.now()
    recording = CallRecording(path, session.started_at)
    session.audio_taps.append(recording)
    session.observers.append(recording.observe)

    def detach() -> None:
        if recording in session.audio_taps:
            session.audio_taps.remove(recording)

    recording.on_finish = detach
    return recording


class CallRecording:
    """The loop side: a tap that queues audio for the writer thread, and never waits."""

    def __init__(
        self, sink: Path | BinaryIO, origin: float, *, queue_size: int = QUEUE_SIZE
    ) -> None:
        self.origin = origin
        self.dropped = 0  # pieces of audio the writer was too far behind to take
        self.on_finish: Callable[[], None] | None = None
        self._queue: queue.Queue[_Item] = queue.Queue(queue_size)
        self._drops = ProblemCounter()
        self._writer = _Writer(sink, origin)
        self._thread = threading.Thread(
            target=self._writer.run, args=(self._queue,), name="parley-recording", daemon=True
        )
        self._thread.start()

    @property
    def error(self) -> str | None:
        """Why the writer stopped writing (the call went on without its recording), if it did."""
        return self._writer.error

    @property
    def finished(self) -> bool:
        return not self._thread.is_alive()

    # --- the taps (session/taps.py), on the event loop ------------------------------------

    def caller_audio(self, end: float, frame: AudioFrame) -> None:
        self._put(("caller", end, frame))

    def agent_audio(self, start: float, frame: AudioFrame) -> None:
        self._put(("agent", start, frame))

    def agent_cleared(self, at: float) -> None:
        self._put(("cut", at, None))

    def observe(self, event: SessionEvent) -> None:
        """A session observer: the file is finished when the session ends."""
        if isinstance(event, SessionEnded):
            self.finish(timing.now())

    def _put(self, item: _Item) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            self._drops.note("dropped", log, "recording: the writer is behind; audio dropped")

    # --- ending ---------------------------------------------------------------------------

    def finish(self, at: float) -> None:
        """Stop taking audio; the writer writes what it has up to `at` and closes the file."""
        if self._writer.end_at is not None:
            return
        if self.on_finish is not None:
            self.on_finish()
        self._writer.end_at = at
        if self.dropped:
            log.warning("recording: %d pieces of audio were dropped in all", self.dropped)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the file is complete (for code off the loop); False on timeout."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    async def aclose(self) -> None:
        """Finish (if the session has not ended yet) and wait for the file to be complete."""
        self.finish(timing.now())
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)


class _Channel:
    """One channel of the timeline, from the writer's position on, at the file's rate."""

    def __init__(self, slack: float) -> None:
        self.audio: npt.NDArray[np.float32] = np.zeros(0, np.float32)
        self.next = 0  # where the audio laid last ends (samples from second 0)
        self._slack = round(slack * RATE)
        self._resampler: StreamResampler | None = None

    def convert(self, frame: AudioFrame) -> npt.NDArray[np.float32]:
        if self._resampler is None or self._resampler.from_rate != frame.sample_rate:
            self._resampler = StreamResampler(frame.sample_rate, RATE)
        return self._resampler.process(frame).as_float()

    def lay(self, at: int, samples: npt.NDArray[np.float32], base: int) -> None:
        """Put `samples` at `at`, or right after the last audio if that is within the slack
        (frames arrive with jitter; audio that was continuous stays continuous)."""
        if abs(at - self.next) <= self._slack:
            at = self.next
        self.next = at + len(samples)
        begin = at - base
        if begin < 0:  # older than what is already written: too late for the file
            samples, begin = samples[-begin:], 0
        end = begin + len(samples)
        if end > len(self.audio):
            self.audio = np.concatenate((self.audio, np.zeros(end - len(self.audio), np.float32)))
        self.audio[begin:end] = samples

    def cut(self, at: int, base: int) -> None:
        self.audio = self.audio[: max(0, at - base)]
        self.next = min(self.next, at)

    def take(self, count: int) -> npt.NDArray[np.float32]:
        out = np.zeros(count, np.float32)
        have = min(count, len(self.audio))
        out[:have] = self.audio[:have]
        self.audio = self.audio[have:]
        return out


class _Writer:
    """The thread side: lays audio on the timeline, encodes what is final, writes it."""

    def __init__(self, sink: Path | BinaryIO, origin: float) -> None:
        self.end_at: float | None = None  # set once by the loop: write up to here and close
        self.error: str | None = None
        self._sink = sink
        self._origin = origin
        self._caller = _Channel(_CALLER_SLACK)
        self._agent = _Channel(_AGENT_SLACK)
        self._base = 0  # samples written so far
        self._final = 0  # audio before this is final (samples from second 0)

    def run(self, items: queue.Queue[_Item]) -> None:
        try:
            self._open()
        except Exception as exc:
            self._failed(exc)
        while True:
            try:
                item = items.get(timeout=0.05)
            except queue.Empty:
                if self.end_at is not None:
                    break
                continue
            if self.error is None:
                try:
                    self._take(item)
                except Exception as exc:
                    self._failed(exc)
        if self.error is None:
            try:
                self._close(self._position(self.end_at))
            except Exception as exc:
                self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        """The file cannot be written (disk full, say): the call goes on, unrecorded."""
        self.error = f"{type(exc).__name__}: {exc}"
        log.error("recording failed; the rest of the call is not recorded (%s)", self.error)

    def _position(self, t: float) -> int:
        return round((t - self._origin) * RATE)

    def _open(self) -> None:
        import av  # PyAV, as transports/browser/audio.py uses it

        if isinstance(self._sink, Path):
            self._sink.parent.mkdir(parents=True, exist_ok=True)
        target = str(self._sink) if isinstance(self._sink, Path) else self._sink
        options = {"page_duration": _PAGE_US, "flush_packets": "1"}
        self._container = av.open(target, "w", format="ogg", options=options)
        self._stream = self._container.add_stream("libopus", rate=RATE, layout="stereo")
        self._stream.bit_rate = BIT_RATE
        self._stream.codec_context.options = {"compression_level": COMPLEXITY}

    def _take(self, item: _Item) -> None:
        kind, t, frame = item
        at = self._position(t)
        if kind == "cut":
            self._agent.cut(at, self._base)
            final = at
        elif kind == "caller":
            assert frame is not None
            samples = self._caller.convert(frame)
            self._caller.lay(at - len(samples), samples, self._base)
            final = at
        else:
            assert frame is not None
            self._agent.lay(at, self._agent.convert(frame), self._base)
            final = at - round(_LOOKAHEAD * RATE)
        self._final = max(self._final, final)
        ready = (self._final - self._base) // _CHUNK * _CHUNK
        if ready > 0:
            self._encode(ready)

    def _encode(self, count: int) -> None:
        import av

        stereo = np.stack((self._caller.take(count), self._agent.take(count)), axis=1)
        pcm = (np.clip(stereo, -1.0, 32767 / 32768) * 32768.0).astype("<i2")
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = RATE
        frame.pts = self._base
        self._base += count
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def _close(self, end: int) -> None:
        if end > self._base:
            self._encode(end - self._base)
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()


def recording_finished(path: Path) -> bool:
    """Whether the file's Ogg stream has ended (its last page is flagged end-of-stream). A file
    still being written, or cut by a crash, has not: it can grow while it is being served."""
    with path.open("rb") as file:
        size = file.seek(0, 2)
        file.seek(max(0, size - 65536))
        tail = file.read()
    last = tail.rfind(b"OggS")
    return last >= 0 and last + 5 < len(tail) and tail[last + 5] & 0x04 != 0
