"""`parley talk --record FILE`: the call as heard, both sides, in one stereo WAV.

Left is the microphone as the session heard it (after echo cancelling), right is what the
speaker played. Both are continuous sample clocks from the call's first block, so lining
them up is counting samples; both are resampled to 16 kHz. Kept in memory and written when
the call ends (about 230 MB an hour).
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from parley.audio.frames import AudioFrame
from parley.audio.resample import resample
from parley.desktop.devices import Samples

RATE = 16000


def _joined(frames: Sequence[AudioFrame], rate: int) -> Samples:
    if not frames:
        return np.zeros(0, dtype=np.int16)
    pcm = AudioFrame(b"".join(f.pcm for f in frames), frames[0].sample_rate)
    return resample(pcm, rate).as_array()


def write_call(
    path: Path, mic: Sequence[AudioFrame], speaker: Sequence[Samples], speaker_rate: int
) -> float:
    """Write the stereo WAV; returns its duration in seconds."""
    left = _joined(mic, RATE)
    played = [AudioFrame(b.astype("<i2").tobytes(), speaker_rate) for b in speaker]
    right = _joined(played, RATE)
    length = max(len(left), len(right))
    stereo = np.zeros((length, 2), dtype="<i2")
    stereo[: len(left), 0] = left
    stereo[: len(right), 1] = right
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(stereo.tobytes())
    return length / RATE


def numbered(path: Path, call: int) -> Path:
    """The first call's file is `path`; the next ones are name-2.wav, name-3.wav..."""
    return path if call <= 1 else path.with_name(f"{path.stem}-{call}{path.suffix}")
