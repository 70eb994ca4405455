"""Audio frames: the one shape audio takes inside parley.

Everything between the transports is 16-bit signed little-endian mono PCM. Transports decode
their wire format (mu-law, base64, WAV, Opus) at the edge; providers convert at theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SAMPLE_WIDTH = 2  # bytes per sample: PCM16
SUPPORTED_RATES = frozenset({8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000})


class AudioFormatError(ValueError):
    """Audio that cannot be what it claims to be (odd byte count, unsupported rate)."""


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """A piece of mono PCM16 audio at a known sample rate."""

    pcm: bytes
    sample_rate: int

    def __post_init__(self) -> None:
        if self.sample_rate not in SUPPORTED_RATES:
            raise AudioFormatError(
                f"unsupported sample rate {self.sample_rate} Hz "
                f"(supported: {', '.join(str(r) for r in sorted(SUPPORTED_RATES))})"
            )
        if len(self.pcm) % SAMPLE_WIDTH:
            raise AudioFormatError(f"PCM16 audio needs an even byte count, got {len(self.pcm)}")

    @property
    def samples(self) -> int:
        return len(self.pcm) // SAMPLE_WIDTH

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples / self.sample_rate

    def as_array(self) -> npt.NDArray[np.int16]:
        return np.frombuffer(self.pcm, dtype="<i2")

    def as_float(self) -> npt.NDArray[np.float32]:
        """Samples scaled to [-1, 1), the form most models take."""
        return self.as_array().astype(np.float32) / 32768.0

    @classmethod
    def from_float(cls, samples: npt.NDArray[np.floating], sample_rate: int) -> AudioFrame:
        clipped = np.clip(samples, -1.0, 32767 / 32768)
        return cls((clipped * 32768.0).astype("<i2").tobytes(), sample_rate)

    @classmethod
    def silence(cls, duration: float, sample_rate: int) -> AudioFrame:
        return cls(bytes(round(duration * sample_rate) * SAMPLE_WIDTH), sample_rate)


def rms_dbfs(frame: AudioFrame) -> float:
    """Loudness of a frame in dBFS; -inf for digital silence."""
    if frame.samples == 0:
        return float("-inf")
    level = float(np.sqrt(np.mean(np.square(frame.as_float(), dtype=np.float64))))
    return 20.0 * float(np.log10(level)) if level > 0 else float("-inf")


def bytes_for(duration: float, sample_rate: int) -> int:
    """Byte count of `duration` seconds of PCM16 at `sample_rate`, whole samples."""
    return round(duration * sample_rate) * SAMPLE_WIDTH
