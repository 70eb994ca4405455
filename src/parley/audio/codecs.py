"""G.711 mu-law and A-law, the telephone codecs, as numpy lookup tables.

Phones (Twilio, Telnyx, Plivo) and the Realtime API's `audio/pcmu` / `audio/pcma` formats carry
8-bit G.711 samples. Python's `audioop` did this but is gone in 3.13, so the tables are built
here once, at import, from the classic segment rules of the ITU recommendation: decoding is
one 256-entry lookup, encoding one 65,536-entry lookup indexed by the PCM16 bit pattern. Both
are a single numpy indexing per frame.

The encoders follow the reference implementation's rounding (14-bit mu-law and 13-bit A-law
magnitudes, truncated), so they agree bit for bit with `audioop` and with other stacks.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_ALL_INT16 = np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)
_ALL_BYTES = np.arange(256, dtype=np.int32)


def _ulaw_decode_table() -> npt.NDArray[np.int16]:
    code = ~_ALL_BYTES & 0xFF
    exponent = (code >> 4) & 0x07
    magnitude = (((code & 0x0F) << 3) + 0x84) << exponent
    linear = np.where(code & 0x80, 0x84 - magnitude, magnitude - 0x84)
    return linear.astype(np.int16)


def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    value = _ALL_INT16 >> 2  # 14-bit
    negative = value < 0
    magnitude = np.minimum(np.where(negative, -value, value), 8159) + 0x21
    segment_ends = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
    segment = np.searchsorted(segment_ends, magnitude, side="left")
    code = np.where(
        segment >= 8, 0x7F, (np.minimum(segment, 7) << 4) | ((magnitude >> (segment + 1)) & 0x0F)
    )
    mask = np.where(negative, 0x7F, 0xFF)
    return (code ^ mask).astype(np.uint8)


def _alaw_decode_table() -> npt.NDArray[np.int16]:
    code = _ALL_BYTES ^ 0x55
    segment = (code & 0x70) >> 4
    base = ((code & 0x0F) << 4) + np.where(segment == 0, 8, 0x108)
    magnitude = np.where(segment > 1, base << np.maximum(segment - 1, 0), base)
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    value = _ALL_INT16 >> 3  # 13-bit
    negative = value < 0
    magnitude = np.where(negative, -value - 1, value)
    segment_ends = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
    segment = np.searchsorted(segment_ends, magnitude, side="left")
    shift = np.where(segment < 2, 1, segment)
    code = np.where(
        segment >= 8, 0x7F, (np.minimum(segment, 7) << 4) | ((magnitude >> shift) & 0x0F)
    )
    mask = np.where(negative, 0x55, 0xD5)
    return (code ^ mask).astype(np.uint8)


ULAW_TO_PCM16 = _ulaw_decode_table()
PCM16_TO_ULAW = _ulaw_encode_table()
ALAW_TO_PCM16 = _alaw_decode_table()
PCM16_TO_ALAW = _alaw_encode_table()


def ulaw_to_pcm16(data: bytes) -> bytes:
    """mu-law bytes to PCM16 little-endian (two bytes per input byte)."""
    return ULAW_TO_PCM16[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes()


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    """PCM16 little-endian to mu-law (one byte per sample)."""
    codes: npt.NDArray[np.uint8] = PCM16_TO_ULAW[np.frombuffer(pcm, dtype="<u2")]
    return codes.tobytes()


def alaw_to_pcm16(data: bytes) -> bytes:
    """A-law bytes to PCM16 little-endian (two bytes per input byte)."""
    return ALAW_TO_PCM16[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes()


def pcm16_to_alaw(pcm: bytes) -> bytes:
    """PCM16 little-endian to A-law (one byte per sample)."""
    codes: npt.NDArray[np.uint8] = PCM16_TO_ALAW[np.frombuffer(pcm, dtype="<u2")]
    return codes.tobytes()
