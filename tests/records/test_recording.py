"""Recordings (issue 14, item 4; invariant 13): the agent's audio exactly as heard, the caller's
beside it on one timeline, written off the event loop, playable after a crash."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from parley.audio.frames import AudioFrame
from parley.events import AgentPaused, AgentResponseDone, AgentResumed, UserSpeechStarted
from parley.providers.base import TTSChunk, TTSStream
from parley.records.recording import CallRecording, recording_finished, start_recording
from parley.session import Session
from parley.testing.fakes import FakeLLM, FakeTTS
from parley.testing.fakes.tts import _FakeTTSCall, _FakeTTSStream
from parley.testing.memory_transport import HangUp, Say, Silence, Step, Wait
from tests.conftest import Measure
from tests.scenario.harness import agent_started_speaking, converse

WINDOW = 0.02  # energy envelopes in 20 ms windows
LONG_REPLY = " ".join(f"word{i}" for i in range(24)) + "."  # 6 s of agent audio


class _ToneCall(_FakeTTSCall):
    """The fake TTS's timing with an audible tone (its counting samples are a ramp below
    1 Hz, which a speech codec rightly throws away)."""

    def take_samples(self, count: int) -> AudioFrame:
        n = np.arange(self._next_sample, self._next_sample + count)
        self._next_sample += count
        tone = 0.3 * np.sin(2 * np.pi * 440.0 * n / self.sample_rate)
        return AudioFrame.from_float(tone, self.sample_rate)


class ToneTTS(FakeTTS):
    def stream(self, output_rate: int | None = None) -> TTSStream:
        self.streams_opened += 1
        return _FakeTTSStream(_ToneCall(self, self.streams_opened))

    def synthesize(self, text: str) -> AsyncGenerator[TTSChunk, None]:
        return _ToneCall(self, 0).synthesize(text)


def decode(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    """The file's samples as (n, 2) floats, and its rate; decoding stops at a torn end."""
    chunks: list[npt.NDArray[Any]] = []
    rate = 0
    with av.open(str(path)) as container:
        try:
            for frame in container.decode(audio=0):
                rate = frame.sample_rate
                chunks.append(frame.to_ndarray().reshape(-1, 2) if frame.format.is_packed
                              else frame.to_ndarray().T)  # fmt: skip
        except av.FFmpegError:
            pass  # the torn last page of a crashed writer
    return np.concatenate(chunks).astype(np.float32), rate


def envelope(samples: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float64]:
    size = round(WINDOW * rate)
    count = len(samples) // size
    frames = samples[: count * size].reshape(count, size).astype(np.float64)
    rms: npt.NDArray[np.float64] = np.sqrt(np.mean(frames**2, axis=1))
    return rms


def busy(intervals: list[tuple[float, float]], count: int) -> npt.NDArray[np.bool_]:
    """Which windows the intervals (seconds) cover."""
    out = np.zeros(count, bool)
    for start, end in intervals:
        out[max(0, int(start / WINDOW)) : max(0, int(np.ceil(end / WINDOW)))] = True
    return out


def agreement(
    actual: npt.NDArray[np.bool_], expected: npt.NDArray[np.bool_], margin: int = 3
) -> float:
    """The share of windows that agree, away from the edges of the expected ones (codec
    delay and the frame-granular listener blur an edge by a window or two)."""
    edges = np.flatnonzero(np.diff(expected.astype(int))) + 1
    keep = np.ones(len(expected), bool)
    for edge in edges:
        keep[max(0, edge - margin) : edge + margin] = False
    return float(np.mean(actual[keep] == expected[keep]))


def test_the_right_channel_is_what_was_heard_and_the_left_what_was_said(
    tmp_path: Path, measured: Measure
) -> None:
    path = tmp_path / "call.ogg"
    recordings: list[CallRecording] = []

    def record(session: Session) -> None:
        recordings.append(start_recording(session, path))

    steps: list[Step] = [
        Silence(0.3),
        Say("tell me a long story", 1.0),
        Wait(agent_started_speaking(1), then=1.0),
        Say("uh-huh", 0.4),  # a backchannel: the agent pauses, then resumes where it was
        Silence(2.5),
        Say("no wait stop", 0.8),  # an interruption: the rest of the answer is never heard
        Wait(agent_started_speaking(2), then=0.2),
        Silence(3.0),
        HangUp(),
    ]
    call = converse(steps, llm=FakeLLM([LONG_REPLY, "Sure."]), tts=ToneTTS(), prepare=record)
    recording = recordings[0]
    assert recording.wait(10), "the writer did not finish"
    assert recording.error is None and recording.dropped == 0
    statuses = [e.status for _, e in call.events(AgentResponseDone)]
    assert statuses == ["interrupted", "completed"]
    assert len(call.events(AgentPaused)) == 2 and len(call.events(AgentResumed)) == 1

    assert recording_finished(path)  # its stream ended: served as a file of known length
    audio, rate = decode(path)
    assert rate == 48000  # Opus decodes at 48 kHz whatever it was fed
    origin = call.session.started_at
    assert origin is not None
    closed = call.session.closed_at
    assert closed is not None
    assert abs(len(audio) / rate - (closed - origin)) < 0.2  # the file spans the call

    # Right: the agent, as the simulated listener heard it (clears drop what was queued).
    heard = [(p.at - origin, p.at - origin + p.frame.audio.duration)
             for p in call.transport.listener.heard]  # fmt: skip
    right = envelope(audio[:, 1], rate)
    expected = busy(heard, len(right))
    right_on = right > 0.02
    agree = agreement(right_on, expected)
    measured("recording: agent windows agreeing with what was heard", agree * 100, "%")
    assert agree > 0.97
    # Audio sent ahead and then cleared is not in the file: silence after the interruption.
    assert call.transport.listener.dropped, "nothing was sent ahead: the test proves nothing"
    decided = [t for t, _ in call.events(UserSpeechStarted)][2] - origin
    after = right[int(decided / WINDOW) + 2 : int(decided / WINDOW) + 5]
    assert after.max() < 0.01, after

    # Left: the caller's tone where the script spoke, silence where it did not.
    said: list[tuple[float, float]] = []
    for index, step in enumerate(steps):
        if isinstance(step, Say):
            start = call.caller.step_start(index) - origin
            said.append((start, start + step.duration))
    left = envelope(audio[:, 0], rate)
    agree_left = agreement(left > 0.02, busy(said, len(left)))
    measured("recording: caller windows agreeing with what was said", agree_left * 100, "%")
    assert agree_left > 0.97


def test_a_stopped_writer_leaves_a_file_that_plays_up_to_the_stop(
    tmp_path: Path, measured: Measure
) -> None:
    """kill -9 of a process that is writing: the file decodes up to (nearly) that point."""
    path = tmp_path / "torn.ogg"
    script = (
        "import sys, time, numpy as np\n"
        "from parley.audio.frames import AudioFrame\n"
        "from parley.records.recording import CallRecording\n"
        "from pathlib import Path\n"
        "rec = CallRecording(Path(sys.argv[1]), 0.0)\n"
        "tone = AudioFrame.from_float(0.3 * np.sin(np.arange(320) / 3), 16000)\n"
        "for i in range(300):\n"  # 6 s of caller audio, paced faster than real time
        "    rec.caller_audio((i + 1) * 0.02, tone)\n"
        "    time.sleep(0.002)\n"
        "print('written', flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", script, str(path)], env=env,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "written"
        time.sleep(0.5)  # the writer catches up (it lags the taps by a page at most)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert not recording_finished(path)  # cut: the API serves what is there, read at once
    audio, rate = decode(path)
    seconds = len(audio) / rate
    measured("recording: audio lost to a kill -9 (of 6 s written)", (6.0 - seconds) * 1000, "ms")
    assert 6.0 - 0.5 < seconds <= 6.0, seconds
    left = envelope(audio[:, 0], rate)
    assert np.mean(left[10:-10] > 0.05) > 0.95  # the caller's audio, throughout


class _SlowSink:
    """A disk that stalls: every write waits until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.data = bytearray()
        self.writes = 0

    def write(self, data: bytes) -> int:
        self.writes += 1
        self.release.wait()
        self.data += data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return len(self.data)

    def tell(self) -> int:
        return len(self.data)


def test_a_slow_disk_never_blocks_the_loop_it_drops_and_counts() -> None:
    sink = _SlowSink()
    frame = AudioFrame(bytes(640), 16000)

    async def main() -> tuple[float, int, int, str | None]:
        recording = CallRecording(sink, 0.0, queue_size=100)  # type: ignore[arg-type]
        # A tap that waited for the disk would wait for this (and fail the bound below).
        safety = threading.Timer(10.0, sink.release.set)
        safety.start()
        at = 0.0
        while sink.writes == 0:  # feed until the writer is stuck in a write
            at += 0.02
            recording.caller_audio(at, frame)
            await asyncio.sleep(0.001)
            assert at < 100, "the writer never wrote"
        before = recording.dropped
        worst = 0.0
        for _ in range(2000):  # 40 s of call while the disk is stuck: far past the queue
            at += 0.02
            began = time.perf_counter()
            recording.caller_audio(at, frame)
            recording.agent_audio(at, frame)
            worst = max(worst, time.perf_counter() - began)
        dropped = recording.dropped - before
        recording.finish(at)
        sink.release.set()
        safety.cancel()
        await recording.aclose()
        return worst, dropped, recording.dropped, recording.error

    worst, dropped_stuck, dropped, error = asyncio.run(main())
    assert dropped >= dropped_stuck
    assert worst < 1.0, f"a tap call took {worst * 1000:.1f} ms"  # microseconds, unless blocked
    assert dropped_stuck >= 4000 - 100  # the writer took nothing: all but the queue's room
    assert error is None and sink.writes > 1  # and wrote the rest once the disk came back
