"""Frames, resampling, estimated word timings and timing records."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import numpy as np
import pytest

from parley.audio.frames import AudioFormatError, AudioFrame, rms_dbfs
from parley.audio.resample import StreamResampler, resample
from parley.audio.wavfile import read_wav, write_wav
from parley.providers.base import TTSChunk
from parley.providers.segment_tts import SegmentTTS, estimate_word_timings
from parley.timing import TurnTimings
from parley.types import TimedWord


def test_frames_reject_what_they_cannot_be() -> None:
    with pytest.raises(AudioFormatError, match="even byte count"):
        AudioFrame(b"\x00", 16000)
    with pytest.raises(AudioFormatError, match="unsupported sample rate 12345"):
        AudioFrame(b"", 12345)
    assert AudioFrame.silence(0.02, 8000).samples == 160
    assert rms_dbfs(AudioFrame.silence(0.02, 8000)) == float("-inf")


def test_resampling_keeps_duration_and_passes_equal_rates_through() -> None:
    tone = AudioFrame.from_float(0.5 * np.sin(np.arange(16000) * 2 * np.pi * 440 / 16000), 16000)
    assert resample(tone, 16000) is tone
    down = resample(tone, 8000)
    assert down.sample_rate == 8000 and abs(down.duration - 1.0) < 0.01
    streamed = StreamResampler(16000, 8000)
    pieces = [
        streamed.process(AudioFrame(tone.pcm[i : i + 640], 16000)) for i in range(0, 32000, 640)
    ]
    total = (
        sum(p.samples for p in pieces) + streamed.process(AudioFrame(b"", 16000), last=True).samples
    )
    assert abs(total - 8000) <= 2
    assert abs(rms_dbfs(down) - rms_dbfs(tone)) < 0.5


@pytest.mark.parametrize(("source", "target"), [(8000, 16000), (48000, 16000), (22050, 8000)])
def test_streaming_hands_on_every_frame_as_it_comes(source: int, target: int) -> None:
    """No gathering into blocks: each 20 ms in gives 20 ms out (after the first, which
    carries the filter's few ms of delay)."""
    streamed = StreamResampler(source, target)
    frame = AudioFrame.from_float(0.1 * np.ones(source // 50), source)
    sizes = [streamed.process(frame).samples for _ in range(20)]
    assert sizes[0] > 0
    assert all(abs(size - target // 50) <= 1 for size in sizes[1:]), sizes


def test_wav_round_trip(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    audio = AudioFrame.from_float(np.linspace(-0.5, 0.5, 800), 8000)
    write_wav(tmp_path / "a.wav", audio)
    assert read_wav(tmp_path / "a.wav") == audio
    with pytest.raises(AudioFormatError, match="not a readable PCM WAV"):
        read_wav(b"RIFF nonsense")
    truncated = (tmp_path / "a.wav").read_bytes()[:30]  # cut inside the fmt chunk
    with pytest.raises(AudioFormatError, match="not a readable PCM WAV"):
        read_wav(truncated)


def test_estimated_word_timings_follow_word_length() -> None:
    words = estimate_word_timings("a bb ccc", start=1.0, duration=0.9)
    assert [w.text for w in words] == ["a", "bb", "ccc"]
    assert words[0].start == 1.0 and abs(words[-1].end - 1.9) < 1e-9
    assert words[1].end - words[1].start == pytest.approx(0.3)  # 3 of 9 units


class TwoSecondsPerSegment(SegmentTTS):
    sample_rate = 16000

    async def synthesize(self, text: str) -> AsyncGenerator[TTSChunk, None]:
        half = AudioFrame.silence(1.0, 16000)
        yield TTSChunk(half, (TimedWord(text, 0.5, 0.9),) if text == "timed" else ())
        yield TTSChunk(half)


def test_segment_streams_place_words_on_the_whole_response() -> None:
    async def run() -> list[TimedWord]:
        stream = TwoSecondsPerSegment().stream()
        stream.push_text("first words")
        stream.push_text("timed")
        stream.end_input()
        return [w async for chunk in stream for w in chunk.words]

    words = asyncio.run(run())
    assert words[0] == TimedWord("first", 0.0, 1.0)  # two words of equal length share 2 s
    assert words[-1] == TimedWord("timed", 2.5, 2.9)  # provider timing, shifted by 2 s


def test_a_timing_record_reads_as_one_line() -> None:
    record = TurnTimings("resp_1", speech_ended=10.0, endpoint_decided=10.5, first_audio_out=11.2)
    assert record.voice_to_voice == pytest.approx(1.2)
    assert record.summary() == (
        "turn resp_1 open v2v=1200ms speech_ended=+0ms endpoint_decided=+500ms "
        "first_audio_out=+1200ms"
    )
