"""Utterance files from pages: told apart by magic bytes, decoded, or refused by name."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest

from parley.audio.frames import AudioFormatError, AudioFrame
from parley.audio.wavfile import read_wav
from parley.transports.browser.audio import decode_utterance, sniff, wav_bytes

from .harness import opus, tone


@pytest.mark.parametrize(
    ("data", "container"),
    [
        (wav_bytes(tone(0.1)), "wav"),
        (opus(0.2, "webm"), "webm"),
        (opus(0.2, "ogg"), "ogg"),
    ],
)
def test_containers_are_told_by_their_magic_bytes(data: bytes, container: str) -> None:
    assert sniff(data) == container


@pytest.mark.parametrize("container", ["webm", "ogg"])
def test_opus_decodes_to_16_khz_of_the_same_length_and_pitch(container: str) -> None:
    audio = decode_utterance(opus(1.0, container), max_seconds=5)
    assert audio.sample_rate == 16000
    assert abs(audio.duration - 1.0) < 0.03
    spectrum = np.abs(np.fft.rfft(audio.as_float()))
    peak_hz = np.argmax(spectrum) * audio.sample_rate / audio.samples
    assert abs(peak_hz - 220) < 5  # the tone came through, not noise


def test_wav_keeps_its_rate_and_samples() -> None:
    original = tone(0.5, 24000)
    decoded = decode_utterance(wav_bytes(original), max_seconds=5)
    assert decoded == original


def test_outbound_wav_is_a_canonical_file() -> None:
    audio = AudioFrame(bytes(range(256)) * 4, 24000)
    data = wav_bytes(audio)
    assert len(data) == 44 + len(audio.pcm)
    assert read_wav(data) == audio


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty"),
        (b"ID3\x04 an mp3", "unrecognised audio (first bytes 49 44 33 04)"),
        (b"RIFF\x24\x00\x00\x00WAVEjunkjunk", "not a readable PCM WAV"),
        (b"\x1a\x45\xdf\xa3" + bytes(64), "could not be decoded"),
        (b"OggS" + bytes(64), "could not be decoded"),
    ],
)
def test_bad_files_are_refused_by_name(data: bytes, problem: str) -> None:
    with pytest.raises(AudioFormatError, match=re.escape(problem)):
        decode_utterance(data, max_seconds=5)


@pytest.mark.parametrize("encode", [lambda: wav_bytes(tone(3.0)), lambda: opus(3.0)])
def test_too_long_utterances_are_refused(encode: Callable[[], bytes]) -> None:
    with pytest.raises(AudioFormatError, match="limit is 2 s"):
        decode_utterance(encode(), max_seconds=2)
