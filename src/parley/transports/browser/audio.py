"""Audio at the browser's edge: utterances in (WAV or WebM/Opus), WAV pieces out.

A page's VAD hands over whole utterances as files: a WAV it wrote itself, or what
MediaRecorder makes (WebM/Opus in Chromium, Ogg/Opus in Firefox). The container is told by
its magic bytes, never by what the client claims. WAV goes through `read_wav`; the Opus
containers through PyAV (FFmpeg), which also converts to mono 16-bit at the STT's usual rate.
"""

from __future__ import annotations

import io
import struct
from typing import Literal

import numpy as np

from parley.audio.frames import SAMPLE_WIDTH, AudioFormatError, AudioFrame
from parley.audio.wavfile import read_wav

Container = Literal["wav", "webm", "ogg"]
DECODE_RATE = 16000  # Opus is decoded straight to this rate; WAV keeps its own


def sniff(data: bytes) -> Container:
    """The container format, from the first bytes; AudioFormatError if none we read."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska and WebM
        return "webm"
    if data[:4] == b"OggS":
        return "ogg"
    if not data:
        raise AudioFormatError("the audio is empty")
    raise AudioFormatError(
        f"unrecognised audio (first bytes {data[:4].hex(' ')}): send WAV or WebM/Opus"
    )


def decode_utterance(data: bytes, max_seconds: float) -> AudioFrame:
    """An utterance file as mono PCM16. Raises AudioFormatError naming the problem.

    CPU-bound (tens of ms for a long Opus clip): call it off the event loop.
    """
    container = sniff(data)
    audio = _read_wav(data) if container == "wav" else _decode_with_av(data, max_seconds)
    if audio.duration > max_seconds:
        raise AudioFormatError(
            f"the utterance is {audio.duration:.1f} s long; the limit is {max_seconds:g} s"
        )
    return audio


def _read_wav(data: bytes) -> AudioFrame:
    try:
        return read_wav(data)
    except (RuntimeError, ValueError, struct.error) as exc:  # `wave` on a truncated chunk
        if isinstance(exc, AudioFormatError):
            raise
        raise AudioFormatError(f"not a readable PCM WAV file ({type(exc).__name__})") from exc


def _decode_with_av(data: bytes, max_seconds: float) -> AudioFrame:
    try:
        import av
    except ImportError as exc:  # the `av` package comes with parley's dependencies
        raise AudioFormatError("WebM/Ogg audio needs PyAV (pip install av)") from exc
    limit = int(max_seconds * DECODE_RATE) + DECODE_RATE
    pieces: list[np.ndarray] = []
    total = 0
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise AudioFormatError("the file has no audio track")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=DECODE_RATE)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1)
                    pieces.append(samples)
                    total += samples.size
                if total > limit:
                    break  # too long: reported by the caller, without decoding the rest
            for out in resampler.resample(None):
                pieces.append(out.to_ndarray().reshape(-1))
    except AudioFormatError:
        raise
    except (av.FFmpegError, ValueError, IndexError, EOFError) as exc:
        raise AudioFormatError(f"the audio could not be decoded ({exc})") from exc
    if not pieces:
        raise AudioFormatError("the file holds no decodable audio")
    pcm = np.concatenate(pieces).astype("<i2").tobytes()
    return AudioFrame(pcm, DECODE_RATE)


_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")


def wav_bytes(audio: AudioFrame) -> bytes:
    """A canonical 44-byte-header PCM16 mono WAV of `audio` (cheap: one per 20 ms frame)."""
    size = len(audio.pcm)
    rate = audio.sample_rate
    header = _HEADER.pack(
        b"RIFF", 36 + size, b"WAVE", b"fmt ", 16, 1, 1, rate, rate * SAMPLE_WIDTH,
        SAMPLE_WIDTH, 8 * SAMPLE_WIDTH, b"data", size,
    )  # fmt: skip
    return header + audio.pcm
