"""G.711 mu-law and A-law tables: reference values, agreement with audioop, and quality."""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

import numpy as np
import pytest

from parley.audio.codecs import alaw_to_pcm16, pcm16_to_alaw, pcm16_to_ulaw, ulaw_to_pcm16

EVERY_PCM16 = np.arange(65536, dtype=np.uint16).view(np.int16).astype("<i2").tobytes()
EVERY_BYTE = bytes(range(256))


def pcm(*values: int) -> bytes:
    return np.array(values, dtype="<i2").tobytes()


def samples(data: bytes) -> list[int]:
    return [int(v) for v in np.frombuffer(data, dtype="<i2")]


def audioop_or_skip() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return importlib.import_module("audioop")
        except ImportError:
            pytest.skip("audioop is gone from this Python (3.13+)")


def test_ulaw_reference_values() -> None:
    # 0xFF and 0x7F are the two zeros; 0x00 and 0x80 the extremes (ITU G.711 table).
    assert samples(ulaw_to_pcm16(bytes([0xFF, 0x7F, 0x00, 0x80]))) == [0, 0, -32124, 32124]
    # -1 lands on the first negative step, as in the reference code (it truncates to 14 bits).
    assert pcm16_to_ulaw(pcm(0, -1, 32767, -32768)) == bytes([0xFF, 0x7E, 0x80, 0x00])


def test_alaw_reference_values() -> None:
    # 0xD5/0x55 are the smallest steps (+-8); 0xAA/0x2A the extremes.
    assert samples(alaw_to_pcm16(bytes([0xD5, 0x55, 0xAA, 0x2A]))) == [8, -8, 32256, -32256]
    assert pcm16_to_alaw(pcm(0, -1, 32767, -32768)) == bytes([0xD5, 0x55, 0xAA, 0x2A])


@pytest.mark.parametrize(
    ("encode", "decode", "theirs"),
    [(pcm16_to_ulaw, ulaw_to_pcm16, "ulaw"), (pcm16_to_alaw, alaw_to_pcm16, "alaw")],
)
def test_bit_exact_with_audioop_for_every_value(
    encode: object, decode: object, theirs: str
) -> None:
    audioop = audioop_or_skip()
    assert callable(encode) and callable(decode)
    assert encode(EVERY_PCM16) == getattr(audioop, f"lin2{theirs}")(EVERY_PCM16, 2)
    assert decode(EVERY_BYTE) == getattr(audioop, f"{theirs}2lin")(EVERY_BYTE, 2)


@pytest.mark.parametrize(
    ("encode", "decode"), [(pcm16_to_ulaw, ulaw_to_pcm16), (pcm16_to_alaw, alaw_to_pcm16)]
)
def test_decoded_values_survive_a_round_trip(encode: object, decode: object) -> None:
    assert callable(encode) and callable(decode)
    levels = decode(EVERY_BYTE)
    assert decode(encode(levels)) == levels
    assert len(set(samples(levels))) >= 255  # mu-law has two zeros, A-law none


@pytest.mark.parametrize(
    ("encode", "decode"), [(pcm16_to_ulaw, ulaw_to_pcm16), (pcm16_to_alaw, alaw_to_pcm16)]
)
def test_speech_level_sine_keeps_telephone_quality(encode: object, decode: object) -> None:
    assert callable(encode) and callable(decode)
    t = np.arange(8000) / 8000
    for level_dbfs in (-6.0, -20.0, -35.0):
        amplitude = 32767 * 10 ** (level_dbfs / 20)
        wave = np.round(amplitude * np.sin(2 * np.pi * 440.0 * t)).astype("<i2")
        back = np.frombuffer(decode(encode(wave.tobytes())), dtype="<i2").astype(np.float64)
        noise = back - wave
        snr = 10 * np.log10(np.mean(wave.astype(np.float64) ** 2) / np.mean(noise**2))
        assert snr > 30.0, f"{level_dbfs} dBFS: SNR {snr:.1f} dB"  # G.711 gives about 38 dB


def test_sizes_and_empty_input() -> None:
    assert len(pcm16_to_ulaw(bytes(320))) == 160  # 20 ms at 8 kHz
    assert len(ulaw_to_pcm16(bytes(160))) == 320
    assert pcm16_to_alaw(b"") == b"" and alaw_to_pcm16(b"") == b""
