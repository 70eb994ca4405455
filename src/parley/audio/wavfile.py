"""Read and write WAV files as AudioFrames (integer PCM, any channel count, mono out)."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from parley.audio.frames import AudioFormatError, AudioFrame

_DTYPES: dict[int, str] = {1: "u1", 2: "<i2", 4: "<i4"}


def read_wav(source: Path | bytes) -> AudioFrame:
    """A WAV file's audio as mono PCM16 (channels averaged). Raises AudioFormatError."""
    try:
        handle = io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
        with handle, wave.open(handle, "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError, RuntimeError) as exc:  # RuntimeError: a truncated chunk
        raise AudioFormatError(f"not a readable PCM WAV file: {exc}") from exc
    if width not in _DTYPES:
        raise AudioFormatError(f"unsupported WAV sample width: {8 * width} bits")
    samples = np.frombuffer(raw[: len(raw) - len(raw) % (width * channels)], dtype=_DTYPES[width])
    as_float = samples.astype(np.float64)
    if width == 1:
        as_float = (as_float - 128.0) / 128.0
    else:
        as_float /= float(2 ** (8 * width - 1))
    mono = as_float.reshape(-1, channels).mean(axis=1)
    return AudioFrame.from_float(mono, rate)


def write_wav(path: Path, audio: AudioFrame) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(audio.sample_rate)
        wav.writeframes(audio.pcm)
