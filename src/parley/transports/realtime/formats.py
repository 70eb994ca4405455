"""The Realtime API's audio formats: names in both dialects, and the wire <-> PCM16 edge.

Formats are kept under the beta names inside (pcm16, g711_ulaw, g711_alaw); the GA names
(audio/pcm, audio/pcmu, audio/pcma) map onto them. pcm16 is 24 kHz only; G.711 is 8 kHz.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from parley.audio.codecs import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw, ulaw_to_pcm16
from parley.audio.frames import AudioFrame, bytes_for
from parley.audio.resample import resample

AudioFormat = Literal["pcm16", "g711_ulaw", "g711_alaw"]
GAFormatName = Literal["audio/pcm", "audio/pcmu", "audio/pcma"]

RATES: dict[AudioFormat, int] = {"pcm16": 24000, "g711_ulaw": 8000, "g711_alaw": 8000}
FROM_GA: dict[GAFormatName, AudioFormat] = {
    "audio/pcm": "pcm16",
    "audio/pcmu": "g711_ulaw",
    "audio/pcma": "g711_alaw",
}
TO_GA: dict[AudioFormat, GAFormatName] = {beta: ga for ga, beta in FROM_GA.items()}
FRAME_S = 0.02  # inbound audio reaches the session in 20 ms frames, like a microphone's


class AudioPayloadError(ValueError):
    """Base64 audio that cannot be what the session's format says it is."""


def decode_audio(payload: str, audio_format: AudioFormat) -> AudioFrame:
    """Base64 audio in `audio_format` -> PCM16 at the format's rate."""
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise AudioPayloadError("not valid base64") from None
    rate = RATES[audio_format]
    if audio_format == "g711_ulaw":
        return AudioFrame(ulaw_to_pcm16(data), rate)
    if audio_format == "g711_alaw":
        return AudioFrame(alaw_to_pcm16(data), rate)
    if len(data) % 2:
        raise AudioPayloadError(f"{len(data)} bytes is not whole 16-bit samples")
    return AudioFrame(data, rate)


def encode_audio(frame: AudioFrame, audio_format: AudioFormat) -> str:
    """PCM16 -> base64 in `audio_format` (resampled if the frame is at another rate)."""
    rate = RATES[audio_format]
    if frame.sample_rate != rate:
        frame = resample(frame, rate)
    if audio_format == "g711_ulaw":
        data = pcm16_to_ulaw(frame.pcm)
    elif audio_format == "g711_alaw":
        data = pcm16_to_alaw(frame.pcm)
    else:
        data = frame.pcm
    return base64.b64encode(data).decode("ascii")


def frames_of(audio: AudioFrame) -> list[AudioFrame]:
    """Cut audio into 20 ms frames (the last may be shorter): the VAD sees a steady stream
    however large the client's chunks are."""
    step = bytes_for(FRAME_S, audio.sample_rate)
    pcm, rate = audio.pcm, audio.sample_rate
    return [AudioFrame(pcm[start : start + step], rate) for start in range(0, len(pcm), step)]


def join_audio(chunks: list[AudioFrame]) -> AudioFrame:
    """One frame of several, at the first one's rate (the format may change mid-buffer)."""
    rate = chunks[0].sample_rate
    return AudioFrame(b"".join(resample(c, rate).pcm for c in chunks), rate)
