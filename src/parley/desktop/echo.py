"""Acoustic echo cancellation: take the agent's own voice out of the microphone.

On speakers the microphone hears the agent, and the VAD would take that for the person
talking over it (a self-interruption). WebRTC's AudioProcessingModule (AEC3), as LiveKit's
`livekit` package ships it (Apache-2.0, manylinux x86-64 and arm64 wheels, macOS, Windows),
subtracts an adaptive estimate of the echo of the speaker signal, the reference, from each
captured block; it finds the delay between the two itself. It works on 10 ms blocks at
16 kHz here: the microphone goes to 16 kHz anyway (every STT parley has takes 16 kHz), and
the reference is resampled to it.

Measured (docs/desktop.md): 69 dB less echo over 20 answers of a delayed, scaled echo
(tests/desktop/test_echo.py), about 0.35 ms of CPU per 10 ms block on this machine.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from parley.audio.frames import AudioFrame
from parley.audio.resample import StreamResampler

RATE = 16000
# The gate's margin behind the canceller (EchoGate): the canceller's loudest residual blocks
# on a PulseAudio loopback were 17 dB under the loudest speaker block of the 300 ms before.
ECHO_LEFT_DB = 12.0
_BLOCK = RATE // 100  # the module's 10 ms


class EchoUnavailable(RuntimeError):
    """The echo canceller's package is missing or its library does not load here."""


class EchoCanceller:
    """Feed it what the speaker played (`reference`) and what the microphone caught
    (`process`), both in order; it returns the microphone at 16 kHz without the echo.
    Not thread-safe: call both from one thread (the event loop)."""

    def __init__(self, speaker_rate: int, delay_ms: int = 0) -> None:
        try:
            from livekit import rtc
        except Exception as exc:  # ImportError, or the native library failing to load
            raise EchoUnavailable(f"livekit's echo canceller is unavailable: {exc}") from exc
        self._rtc: Any = rtc
        self._apm = rtc.AudioProcessingModule(echo_cancellation=True, high_pass_filter=True)
        self._delay_ms = delay_ms
        self._far = StreamResampler(speaker_rate, RATE)
        self._far_pending = np.zeros(0, dtype=np.int16)
        self._mic: StreamResampler | None = None
        self._near_pending = np.zeros(0, dtype=np.int16)
        self._far_blocks: deque[np.ndarray] = deque()
        self.blocks = 0

    def reference(self, played: AudioFrame) -> None:
        """What the speaker just played (silence included: the canceller needs the timing)."""
        pcm = self._far.process(played).as_array()
        self._far_pending = np.concatenate((self._far_pending, pcm))
        while len(self._far_pending) >= _BLOCK:
            self._far_blocks.append(self._far_pending[:_BLOCK])
            self._far_pending = self._far_pending[_BLOCK:]

    def process(self, captured: AudioFrame) -> AudioFrame:
        """The captured audio, echo removed, at 16 kHz (a whole number of 10 ms blocks; the
        rest waits for the next call)."""
        if self._mic is None or self._mic.from_rate != captured.sample_rate:
            self._mic = StreamResampler(captured.sample_rate, RATE)
        near = np.concatenate((self._near_pending, self._mic.process(captured).as_array()))
        out: list[bytes] = []
        while len(near) >= _BLOCK:
            block, near = near[:_BLOCK], near[_BLOCK:]
            # The reference played before this block was captured goes in first.
            while self._far_blocks:
                self._apm.process_reverse_stream(self._frame(self._far_blocks.popleft()))
            frame = self._frame(block)
            self._apm.set_stream_delay_ms(self._delay_ms)
            self._apm.process_stream(frame)
            out.append(bytes(memoryview(frame.data).cast("B")))
            self.blocks += 1
        self._near_pending = near
        return AudioFrame(b"".join(out), RATE)

    def _frame(self, block: np.ndarray) -> Any:
        return self._rtc.AudioFrame(block.astype("<i2").tobytes(), RATE, 1, _BLOCK)


class EchoGate:
    """The safe fallback, and the canceller's backstop: while the speaker plays, a microphone
    block passes only if it is louder than the echo it could be; quieter blocks become
    silence. A block that passes holds the gate open for `hold_s`, so a person's speech is not
    chopped between syllables.

    The echo it could be is learnt: for each microphone block while the speaker plays, its
    level relative to the loudest speaker block of the last `tail_s` (the coupling); the gate
    takes the 90th percentile of the last `window` of them, plus `headroom_db`. Until it has
    `window / 5` of them it assumes `margin_db` under the speaker: 12 dB behind the canceller
    (its loudest residual blocks on a PulseAudio loopback were 17 dB under), 0 dB without one.
    So a room with little echo lets quiet speech through, and a loud one asks for more.

    While the speaker plays, a block passes only as the `confirm`-th in a row over the
    threshold (the first two, 40 ms, are lost): on a real device path the canceller let one
    20 ms block of echo through at the speaker's own level when the output glitched, and
    opening on it would have let the hold carry the residue after it to the VAD.
    """

    def __init__(
        self,
        margin_db: float,
        *,
        headroom_db: float = 6.0,
        tail_s: float = 0.3,
        hold_s: float = 0.3,
        confirm: int = 3,
        window: int = 250,
    ) -> None:
        self.margin_db = margin_db
        self._headroom_db = headroom_db
        self._tail_s = tail_s
        self._hold_s = hold_s
        self._confirm = confirm
        self._couplings: deque[float] = deque(maxlen=window)
        self._over = 0  # blocks in a row over the threshold while the speaker plays
        self._speaker: deque[tuple[float, float]] = deque()  # (duration, dBFS) recent blocks
        self._open_for = 0.0
        self._echo_db = -margin_db  # the learnt coupling, once there are enough blocks
        self.gated = 0  # blocks silenced

    def speaker(self, duration: float, dbfs: float) -> None:
        """A block the speaker played, and its level."""
        self._speaker.append((duration, dbfs))
        total = sum(d for d, _ in self._speaker)
        while self._speaker and total - self._speaker[0][0] >= self._tail_s:
            total -= self._speaker.popleft()[0]

    def speaker_db(self) -> float:
        """The loudest speaker block of the last `tail_s` (-inf: the speaker was silent)."""
        return max((db for _, db in self._speaker), default=float("-inf"))

    def echo_db(self) -> float:
        """How far under the speaker the echo is taken to be (dB, at most 0)."""
        return self._echo_db

    def threshold(self) -> float:
        """The level a microphone block must pass now (-inf when the speaker was quiet)."""
        speaker = self.speaker_db()
        if speaker == float("-inf"):
            return speaker
        learnt = self._echo_db + self._headroom_db if self._learnt() else self._echo_db
        return speaker + min(0.0, learnt)

    def _learnt(self) -> bool:
        return len(self._couplings) >= (self._couplings.maxlen or 1) // 5

    def process(self, frame: AudioFrame, dbfs: float) -> AudioFrame:
        """`frame` (whose level is `dbfs`) as it may go on: itself, or silence."""
        speaker = self.speaker_db()
        if speaker == float("-inf"):  # the speaker is silent: nothing to gate
            self._over, self._open_for = 0, 0.0
            return frame
        threshold = self.threshold()
        self._couplings.append(max(dbfs, speaker - 120.0) - speaker)
        if self._learnt():
            self._echo_db = min(0.0, float(np.percentile(self._couplings, 90)))
        self._over = self._over + 1 if dbfs > threshold else 0
        if self._over >= self._confirm:
            self._open_for = self._hold_s  # speech over the agent: holds the gate open
            return frame
        if self._open_for > 1e-9:  # held open (1e-9: float sums of block durations)
            self._open_for -= frame.duration
            return frame
        self.gated += 1
        return AudioFrame(bytes(len(frame.pcm)), frame.sample_rate)
