"""The simulated caller and what is measured from its side of the line.

`BenchCaller` is the Twilio fake caller (real-time 20 ms mu-law frames, a playback buffer that
honours `clear` and echoes marks) that also notes when it sent `stop`. The helpers read its
log: voice-to-voice, barge-in (onset to `clear`, and to the last old audio heard), and how
late each outbound frame arrived relative to when the listener needed it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from parley import timing
from parley.audio.frames import AudioFrame
from parley.audio.wavfile import read_wav
from parley.testing.twilio_caller.caller_playback import PlayedChunk
from parley.testing.twilio_caller.fake_caller import FakeCaller

DATA = Path(__file__).resolve().parents[3] / "tests" / "data"


@dataclass(frozen=True, slots=True)
class Clip:
    name: str
    seconds: float | None = None  # cut to this length (None: the whole file)


QUESTION = Clip("question_time")  # "What time is it in Tokyo right now?" 3.1 s
OTHER_QUESTION = Clip("thanks_bye")  # "Thank you, that is all. Goodbye." 2.5 s
STORY_QUESTION = Clip("question_story")  # "Can you tell me a short story about a lighthouse?"
INTERRUPTION = Clip("interrupt_wait", 1.3)  # "Wait, stop." then 250 ms of silence


@cache
def clip(which: Clip) -> AudioFrame:
    """A speech clip from tests/data (Piper's voice, 8 kHz; texts in tests/data/README.md)."""
    path = DATA / f"{which.name}.wav"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: parley bench runs from a checkout of the repository")
    audio = read_wav(path)
    if which.seconds is None:
        return audio
    return AudioFrame(audio.pcm[: 2 * round(which.seconds * audio.sample_rate)], audio.sample_rate)


class BenchCaller(FakeCaller):
    """The fake caller, noting when `stop` left (hangup is measured from there)."""

    stop_sent_at: float | None = None

    async def end_call(self, ended_by: str = "twilio") -> None:
        if self.stop_sent_at is None:
            self.stop_sent_at = timing.now()
        await super().end_call(ended_by)


def old_audio_heard_until(caller: FakeCaller, onset: float, earliest_answer: float) -> float:
    """When the caller stopped hearing the agent audio it barged in on (`onset` if none was
    playing). Old audio is what arrived before the first `clear` after the onset, and anything
    that arrived before `earliest_answer` (the end of the interrupting speech plus the
    turn-ending silence: no answer can start sooner, so audio then is stale)."""
    clear = next((t for t in caller.log.clears_received if t >= onset), float("inf"))
    ends = [
        c.end
        for c in caller.playback.chunks
        if c.duration > 0 and c.end > onset and (c.received < clear or c.received < earliest_answer)
    ]
    return max(ends, default=onset)


def responses(caller: FakeCaller) -> Iterator[list[PlayedChunk]]:
    """The agent audio answering each utterance: chunks received after its speech ended and
    before the next utterance began."""
    utterances = caller.log.utterances
    for index, utterance in enumerate(utterances):
        if utterance.speech_end is None:
            continue
        until = utterances[index + 1].started if index + 1 < len(utterances) else float("inf")
        yield [c for c in caller.playback.chunks if utterance.speech_end <= c.received < until]


def frame_lateness(caller: FakeCaller) -> list[float]:
    """For every agent frame after the first of its response: how long after the listener
    needed it (the end of the audio before it) it arrived; 0 when it was there in time."""
    late = []
    for chunks in responses(caller):
        for before, chunk in itertools.pairwise(chunks):
            late.append(max(0.0, chunk.received - before.end))
    return late


def answered(caller: FakeCaller, within: float) -> list[bool]:
    """For each utterance with speech: did agent audio arrive within `within` s of its end?"""
    results = []
    for utterance in caller.log.utterances:
        if utterance.speech_end is None:
            continue
        v2v = caller.voice_to_voice(utterance)
        results.append(v2v is not None and v2v <= within)
    return results
