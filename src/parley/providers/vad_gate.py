"""Speech gate: turns per-window speech probabilities into start/stop decisions.

Shared by every VAD that reports probabilities, so the decision rules live once and read
the turn-taking policy: onset after `min_interruption_ms` of voiced audio, hysteresis
between `vad_threshold` and its release threshold, end after `min_silence_ms` of silence
(or `turn_max_silence_ms` with a turn detector: the conversation then ends turns sooner).
Positions are counted in samples so long sessions do not drift.
"""

from __future__ import annotations

from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import VADEvent, VADEventKind


class SpeechGate:
    def __init__(self, policy: TurnTakingPolicy, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._threshold = policy.vad_threshold
        self._release = policy.vad_release_threshold
        self._min_voiced = round(policy.min_interruption_ms * sample_rate / 1000)
        self._min_silence = round(policy.vad_silence_ms * sample_rate / 1000)
        self._position = 0  # samples analysed so far
        self._speaking = False
        self._run_start: int | None = None  # onset of the voiced run not yet declared speech
        self._voiced_until = 0  # end of the last voiced window while speaking
        self._quiet = False  # speaking, but the latest windows were silent

    @property
    def speaking(self) -> bool:
        return self._speaking

    def update(self, probability: float, samples: int) -> tuple[VADEvent, ...]:
        """Account for one analysed window of `samples` samples with this probability."""
        start, end = self._position, self._position + samples
        self._position = end
        if not self._speaking:
            if probability < self._threshold:
                self._run_start = None
                return ()
            if self._run_start is None:
                self._run_start = start
            if end - self._run_start < self._min_voiced:
                return ()
            self._speaking = True
            self._voiced_until = end
            return (VADEvent(VADEventKind.START, self._run_start / self.sample_rate),)
        if probability >= self._release:
            self._voiced_until = end
            if self._quiet:
                self._quiet = False
                return (VADEvent(VADEventKind.RESUME, start / self.sample_rate),)
            return ()
        events: tuple[VADEvent, ...] = ()
        if not self._quiet:
            self._quiet = True
            events = (VADEvent(VADEventKind.PAUSE, self._voiced_until / self.sample_rate),)
        if end - self._voiced_until < self._min_silence:
            return events
        self._speaking = self._quiet = False
        self._run_start = None
        return (*events, VADEvent(VADEventKind.END, self._voiced_until / self.sample_rate))
