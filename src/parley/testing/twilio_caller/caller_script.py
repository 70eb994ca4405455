"""What a fake caller does and what it records: script steps, wait conditions, call logs,
and the audio helpers that turn WAV files into speech with a known onset and end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from parley.audio.frames import AudioFrame

if TYPE_CHECKING:
    from parley.testing.twilio_caller.fake_caller import FakeCaller

# --- the script ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Speak:
    """Say this audio (any rate; sent as 8 kHz mu-law frames)."""

    audio: AudioFrame
    label: str = ""


@dataclass(frozen=True, slots=True)
class Pause:
    """Send silence for `duration` seconds."""

    duration: float


@dataclass(frozen=True, slots=True)
class WaitFor:
    """Send silence until `condition(caller, now)` holds, then `then` seconds more."""

    condition: Condition
    then: float = 0.0
    limit: float = 30.0
    what: str = "the condition"


@dataclass(frozen=True, slots=True)
class PressKeys:
    digits: str


@dataclass(frozen=True, slots=True)
class SendRaw:
    """Send this exact text or binary frame (to test how a server takes bad input)."""

    message: str | bytes


@dataclass(frozen=True, slots=True)
class HangUp:
    """Send `stop` and close, as Twilio does when the caller hangs up."""


CallerStep = Speak | Pause | WaitFor | PressKeys | SendRaw | HangUp


Condition = Callable[["FakeCaller", float], bool]


def any_of(*conditions: Condition) -> Condition:
    """Condition: any of these holds."""
    return lambda caller, now: any(condition(caller, now) for condition in conditions)


def agent_heard(seconds: float) -> Condition:
    """Condition: the caller has heard `seconds` of agent audio since its last utterance."""
    return lambda caller, now: caller.heard_since_last_utterance(now) >= seconds


def agent_finished(quiet: float = 1.0) -> Condition:
    """Condition: the agent answered the last utterance and has been quiet for `quiet` s."""

    def done(caller: FakeCaller, now: float) -> bool:
        return (
            caller.heard_since_last_utterance(now) > 0 and caller.playback.idle_since(now) >= quiet
        )

    return done


def answered(limit: float = 30.0) -> WaitFor:
    """Step: wait for the agent's answer, until it has been quiet for a second."""
    return WaitFor(agent_finished(1.0), limit=limit, what="the agent's answer")


def agent_speaking_after(seconds: float) -> Condition:
    """Condition: `seconds` of the answer were heard and it is playing now (a pause between
    two of its segments is no moment to cut in: there is nothing to interrupt)."""
    heard = agent_heard(seconds)
    return lambda caller, now: heard(caller, now) and caller.playback.idle_since(now) == 0.0


def heard_or_finished(seconds: float, limit: float = 30.0) -> WaitFor:
    """Step: wait until `seconds` of the answer were heard and it is playing (to cut in), or
    it ended."""
    either = any_of(agent_speaking_after(seconds), agent_finished(1.0))
    return WaitFor(either, limit=limit, what="the agent")


# --- records ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Utterance:
    """One Speak step: when its audio was captured, with its voiced part located."""

    label: str
    started: float  # capture time of its first sample
    ended: float = 0.0  # capture time of its last sample
    onset: float | None = None  # first voiced sample (None: the audio is silent)
    speech_end: float | None = None  # last voiced sample


@dataclass(slots=True)
class CallLog:
    """Everything that happened on the line, timestamped on the loop's clock."""

    frames: list[tuple[float, float]] = field(default_factory=list)  # (due, sent)
    utterances: list[Utterance] = field(default_factory=list)
    media_received: list[float] = field(default_factory=list)
    marks_received: list[tuple[float, str]] = field(default_factory=list)
    marks_echoed: list[tuple[float, str]] = field(default_factory=list)
    clears_received: list[float] = field(default_factory=list)
    digits_sent: list[tuple[float, str]] = field(default_factory=list)
    protocol_errors: list[str] = field(default_factory=list)  # what the server got wrong
    ended_by: str | None = None  # "caller", "twilio" or "server"
    closed_at: float | None = None


# --- audio helpers ---------------------------------------------------------------------------


def voiced_span(
    audio: AudioFrame, threshold_dbfs: float = -40.0, window: float = 0.01
) -> tuple[float, float] | None:
    """First and last voiced moments of a clip (10 ms windows louder than the threshold)."""
    size = max(1, round(window * audio.sample_rate))
    samples = audio.as_float().astype(np.float64)
    if not len(samples):
        return None
    # One pass over all windows (the caller runs in the loop it measures): the last window
    # may be short, so each window's mean square divides by its own length.
    starts = np.arange(0, len(samples), size)
    sums = np.add.reduceat(np.square(samples), starts)
    lengths = np.diff(np.append(starts, len(samples)))
    threshold = (10 ** (threshold_dbfs / 20)) ** 2
    voiced = starts[sums / lengths > threshold]
    if not len(voiced):
        return None
    end = min(len(samples), int(voiced[-1]) + size)
    return int(voiced[0]) / audio.sample_rate, end / audio.sample_rate
