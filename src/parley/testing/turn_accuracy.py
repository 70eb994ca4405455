"""How often a turn-taking policy jumps into a pause, and how long it waits after a turn.

Replays labelled clips (tests/data/turns: finished sentences, and sentences with a pause of
400-1,500 ms inside) through the real Silero VAD stream and, for a detector policy, the real
Smart Turn model, with the conversation's endpoint rules (conversation/machine.py) applied on
the clip's own clock:

- silence policy: the turn ends when the VAD ends speech (min_silence_ms of silence);
- detector policy: at each pause the detector is asked at turn_check_silence_ms of silence,
  with the audio the input path would give it (from the onset less prefix padding, at most
  8 s); its answer arrives after its measured inference time. 'Complete' (probability >=
  threshold) ends the turn then; an answer later than min_silence_ms leaves the turn to the
  silence timer, as in the session; 'not finished' waits for turn_max_silence_ms, unless
  speech resumes first.

The detector runs for real, on this machine, at the moment of the replay: its latency is the
one measured here and now. Frames are 20 ms, at 16 kHz (the pipeline rate); the clip ends in
3 s of silence. Only the first endpoint of a clip counts: before the labelled end of speech
it is premature.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from parley.audio.frames import AudioFrame
from parley.audio.resample import resample
from parley.audio.wavfile import read_wav
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import VAD, VADEventKind
from parley.providers.local.smart_turn import SmartTurn

RATE = 16000
FRAME_S = 0.02
TAIL_S = 3.0
TURN_AUDIO_S = 8.0


@dataclass(frozen=True)
class Clip:
    file: str
    label: str  # "finished" or "unfinished"
    text: str
    speech_end: float
    pause_start: float | None = None
    pause_end: float | None = None
    cut: str | None = None  # unfinished: "sentence" (falling pitch) or "comma"
    voice: str = "piper-joe"


@dataclass
class Ask:
    """One question to the detector: when, what it said, how long it took."""

    at: float
    probability: float
    seconds: float


@dataclass
class Outcome:
    clip: Clip
    endpoint: float | None  # clip time at which the turn ended (None: never)
    asks: list[Ask] = field(default_factory=list)

    @property
    def premature(self) -> bool:
        return self.endpoint is not None and self.endpoint < self.clip.speech_end

    @property
    def in_pause(self) -> bool:
        """Premature, inside the labelled pause (not at a breath elsewhere)."""
        start, end, at = self.clip.pause_start, self.clip.pause_end, self.endpoint
        if at is None or start is None or end is None:
            return False
        return self.premature and start <= at <= end

    @property
    def delay(self) -> float | None:
        """Seconds from the end of speech to the endpoint, for a turn not cut short."""
        if self.endpoint is None or self.premature:
            return None
        return self.endpoint - self.clip.speech_end


def load_clips(folder: Path) -> list[Clip]:
    manifest = json.loads((folder / "manifest.json").read_text())
    fields = Clip.__dataclass_fields__
    return [Clip(**{k: v for k, v in c.items() if k in fields}) for c in manifest["clips"]]


def clip_audio(folder: Path, clip: Clip) -> np.ndarray:
    """The clip at 16 kHz, followed by TAIL_S of silence (int16 samples)."""
    audio = resample(read_wav(folder / clip.file), RATE).as_array()
    return np.concatenate([audio, np.zeros(round(TAIL_S * RATE), "<i2")])


def replay(
    audio: np.ndarray,
    clip: Clip,
    policy: TurnTakingPolicy,
    vad: VAD,
    detector: SmartTurn | None,
    answers: dict[tuple[str, float], Ask] | None = None,
    latency: float | None = None,
) -> Outcome:
    """The first endpoint the policy makes on this clip. `answers` caches the detector's
    answers by (file, ask time), so policies that differ only in threshold share them.
    `latency` (seconds) replaces the detector's measured time: the model's judgement apart
    from this machine's load."""
    use_detector = policy.uses_turn_detector and detector is not None
    stream = vad.stream(policy, RATE)
    step = round(FRAME_S * RATE)
    padding = round(policy.prefix_padding_ms * RATE / 1000)
    check_s = policy.turn_check_silence_ms / 1000
    silence_s = policy.min_silence_ms / 1000
    outcome = Outcome(clip, None)
    speech_from: int | None = None
    pending: float | None = None  # last_voiced of the pause the detector will be asked about
    verdict: tuple[float, bool] | None = None  # (arrives at, complete) of the asked question
    try:
        for start in range(0, len(audio), step):
            frame_end = (start + step) / RATE
            # Timers due before this frame's events (the session's timers run on the clock).
            if pending is not None and use_detector:
                ask_at = pending + check_s
                if verdict is None and ask_at <= frame_end:
                    assert detector is not None and speech_from is not None
                    ask = _ask(audio, speech_from, ask_at, clip, detector, answers)
                    outcome.asks.append(ask)
                    complete = ask.probability >= policy.turn_detector_threshold
                    took = ask.seconds if latency is None else latency
                    verdict = (ask_at + took, complete)
                if verdict is not None:
                    arrives, complete = verdict
                    if arrives > pending + silence_s and pending + silence_s <= frame_end:
                        outcome.endpoint = pending + silence_s  # too slow: the silence timer
                        return outcome
                    if arrives <= frame_end and complete:
                        outcome.endpoint = arrives
                        return outcome
            pcm = audio[start : start + step]
            for event in stream.process(AudioFrame(pcm.tobytes(), RATE)).events:
                if event.kind is VADEventKind.START:
                    speech_from = max(0, round(event.offset * RATE) - padding)
                elif event.kind is VADEventKind.PAUSE:
                    pending, verdict = event.offset, None
                elif event.kind is VADEventKind.RESUME:
                    pending, verdict = None, None
                elif event.kind is VADEventKind.END:
                    outcome.endpoint = frame_end
                    return outcome
    finally:
        stream.close()
    return outcome


def _ask(
    audio: np.ndarray,
    speech_from: int,
    at: float,
    clip: Clip,
    detector: SmartTurn,
    answers: dict[tuple[str, float], Ask] | None,
) -> Ask:
    key = (clip.file, round(at, 3))
    if answers is not None and key in answers:
        return answers[key]
    end = round(at * RATE)
    begin = max(speech_from, end - round(TURN_AUDIO_S * RATE))
    frame = AudioFrame(audio[begin:end].tobytes(), RATE)
    started = time.perf_counter()
    probability = detector.probability(frame)
    ask = Ask(at, probability, time.perf_counter() - started)
    if answers is not None:
        answers[key] = ask
    return ask


@dataclass
class Summary:
    name: str
    unfinished: int
    premature: int  # on the unfinished clips
    in_pause: int
    finished: int
    finished_premature: int  # finished clips cut at an inner pause (a comma)
    delays: list[float]  # seconds, finished clips
    ask_seconds: list[float]
    by_cut: str  # premature on unfinished clips cut as a sentence / at a comma

    @property
    def premature_rate(self) -> float:
        return self.premature / self.unfinished if self.unfinished else 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.delays, q)) if self.delays else float("nan")

    def row(self) -> str:
        asks = (
            f"{np.percentile(self.ask_seconds, 50) * 1000:.0f}/"
            f"{np.percentile(self.ask_seconds, 95) * 1000:.0f}"
            if self.ask_seconds
            else "-"
        )
        return (
            f"| {self.name} | {self.premature}/{self.unfinished} ({self.by_cut}) "
            f"| {self.finished_premature}/{self.finished} | {self.percentile(50) * 1000:.0f} "
            f"| {self.percentile(95) * 1000:.0f} | {sum(d > 1.0 for d in self.delays)} | {asks} |"
        )


HEADER = (
    "| policy | premature on unfinished (sentence/comma cut) | premature on finished "
    "| delay p50 ms | delay p95 ms | finished waiting > 1 s | detector ms p50/p95 |\n"
    "|---|---|---|---|---|---|---|"
)


def summarize(name: str, outcomes: list[Outcome]) -> Summary:
    unfinished = [o for o in outcomes if o.clip.label == "unfinished"]
    finished = [o for o in outcomes if o.clip.label == "finished"]
    return Summary(
        name=name,
        unfinished=len(unfinished),
        premature=sum(o.premature for o in unfinished),
        in_pause=sum(o.in_pause for o in unfinished),
        finished=len(finished),
        finished_premature=sum(o.premature for o in finished),
        delays=[d for o in finished if (d := o.delay) is not None],
        ask_seconds=[a.seconds for o in outcomes for a in o.asks],
        by_cut=" / ".join(
            str(sum(o.premature for o in unfinished if o.clip.cut == cut))
            for cut in ("sentence", "comma")
        ),
    )
