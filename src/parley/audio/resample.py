"""Streaming sample-rate conversion with soxr.

soxr is a well-kept, fast, high-quality resampler with a streaming API that keeps filter state
between chunks, so frame boundaries cause no clicks. When rates match the audio passes through
untouched, which keeps test audio bit-exact.
"""

from __future__ import annotations

import numpy as np
import soxr

from parley.audio.frames import AudioFrame


class StreamResampler:
    """Converts a stream of frames from one rate to another, one frame at a time."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._stream: soxr.ResampleStream | None = None
        if from_rate != to_rate:
            # "HQ" is soxr's low-latency high-quality preset: a few ms of delay, fine for speech.
            self._stream = soxr.ResampleStream(from_rate, to_rate, 1, dtype="int16", quality="HQ")

    def process(self, frame: AudioFrame, *, last: bool = False) -> AudioFrame:
        if frame.sample_rate != self.from_rate:
            raise ValueError(f"resampler expects {self.from_rate} Hz, got {frame.sample_rate} Hz")
        if self._stream is None:
            return frame
        out = self._stream.resample_chunk(frame.as_array(), last=last)
        return AudioFrame(np.asarray(out, dtype="<i2").tobytes(), self.to_rate)


def resample(frame: AudioFrame, to_rate: int) -> AudioFrame:
    """One-shot conversion of a whole clip."""
    if frame.sample_rate == to_rate:
        return frame
    out = soxr.resample(frame.as_array(), frame.sample_rate, to_rate, quality="HQ")
    return AudioFrame(np.asarray(out, dtype="<i2").tobytes(), to_rate)
