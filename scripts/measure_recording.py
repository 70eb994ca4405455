"""Size and CPU of one recorded call-minute (docs/recordings.md): 60 s of speech on both
channels (the tests/data Piper clips, looped; caller 8 kHz, agent 24 kHz) through a
CallRecording, process CPU time from the first frame to the finished file.

    PYTHONPATH=src python scripts/measure_recording.py /tmp/minute.ogg
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import av  # noqa: F401 - imported before timing: the writer's first import is not the cost

from parley.audio.frames import AudioFrame
from parley.audio.resample import resample
from parley.audio.wavfile import read_wav
from parley.records.recording import CallRecording

CLIPS = ("question_time.wav", "question_story.wav", "interrupt_wait.wav", "thanks_bye.wav")


def main(out: Path) -> None:
    clips = [read_wav(Path("tests/data") / name) for name in CLIPS]
    caller = b"".join(c.pcm for c in clips)
    agent = b"".join(resample(c, 24000).pcm for c in clips)
    began = time.process_time()
    recording = CallRecording(out, 0.0, queue_size=100_000)  # no drops: measure all the work
    tapping = 0.0
    for i in range(3000):  # 60 s in 20 ms frames
        heard = caller[(i * 320) % (len(caller) - 320) :][:320]
        said = agent[(i * 960) % (len(agent) - 960) :][:960]
        start = time.perf_counter()
        recording.caller_audio((i + 1) * 0.02, AudioFrame(heard, 8000))
        recording.agent_audio(i * 0.02 + 0.1, AudioFrame(said, 24000))
        tapping += time.perf_counter() - start
        if i % 50 == 49:
            time.sleep(0.005)  # a second of call at a time, as a call's pace spreads it
    recording.finish(60.0)
    recording.wait()
    cpu = time.process_time() - began
    size = out.stat().st_size / 1024
    tap = tapping / 6000 * 1e6
    print(
        f"{size:.0f} KiB, {cpu * 1000:.0f} ms CPU per call-minute; a tap call {tap:.1f} us "
        f"on average; dropped {recording.dropped}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
