"""Sample-rate conversion with libsamplerate (the `samplerate` package).

Streaming matters more than anything here: the input path resamples every inbound frame on
its way to VAD and STT, and invariant 1 needs each frame to come out as it goes in.
libsamplerate's sinc converters work sample by sample, so every 20 ms in gives 20 ms out
after a fixed delay of about 2.5 ms. soxr, faster and just as good for whole files, releases
streamed output in blocks (measured: nothing for four or five 20 ms frames at 8 -> 16 kHz,
then ~100 ms at once), which held the ear shut for 100 ms at a time; it is not used.
When rates match the audio passes through untouched, which keeps test audio bit-exact.
"""

from __future__ import annotations

import numpy as np
import samplerate

from parley.audio.frames import AudioFrame

# The medium sinc converter: 97 dB SNR, flat to 90% of the band, ~50 us a 20 ms frame.
_CONVERTER = "sinc_medium"


class StreamResampler:
    """Converts a stream of frames from one rate to another, one frame at a time."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._ratio = to_rate / from_rate
        self._samples_in = self._samples_out = 0
        self._converter: samplerate.Resampler | None = None
        if from_rate != to_rate:
            self._converter = samplerate.Resampler(_CONVERTER, channels=1)

    def process(self, frame: AudioFrame, *, last: bool = False) -> AudioFrame:
        """Resample one frame; `last` flushes what the filter still holds."""
        if frame.sample_rate != self.from_rate:
            raise ValueError(f"resampler expects {self.from_rate} Hz, got {frame.sample_rate} Hz")
        if self._converter is None:
            return frame
        out = np.asarray(self._converter.process(frame.as_float(), self._ratio))
        self._samples_in += frame.samples
        if last:
            # The filter still holds its delay: push silence through, keep what is owed.
            owed = round(self._samples_in * self._ratio) - self._samples_out - len(out)
            pad = np.zeros(self.from_rate // 20, dtype=np.float32)
            tail = np.asarray(self._converter.process(pad, self._ratio, end_of_input=True))
            out = np.concatenate((out, tail[: max(0, owed)]))
        self._samples_out += len(out)
        return AudioFrame.from_float(out, self.to_rate)


def resample(frame: AudioFrame, to_rate: int) -> AudioFrame:
    """One-shot conversion of a whole clip."""
    if frame.sample_rate == to_rate:
        return frame
    out = samplerate.resample(frame.as_float(), to_rate / frame.sample_rate, _CONVERTER)
    return AudioFrame.from_float(np.asarray(out), to_rate)
