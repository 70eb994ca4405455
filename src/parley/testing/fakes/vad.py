"""A loudness VAD: any frame louder than a threshold is speech.

Deterministic, instant and good enough for scripted audio (voiced frames are loud, silence
is silent), so it drives the scenario tests, demos and benchmarks with fakes.
"""

from __future__ import annotations

from parley.audio.frames import AudioFrame, rms_dbfs
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import VAD, VADOutput, VADStream
from parley.providers.vad_gate import SpeechGate


class EnergyVADStream(VADStream):
    def __init__(self, policy: TurnTakingPolicy, sample_rate: int, threshold_dbfs: float) -> None:
        self.sample_rate = sample_rate
        self._gate = SpeechGate(policy, sample_rate)
        self._threshold_dbfs = threshold_dbfs
        self.frames = 0

    def process(self, frame: AudioFrame) -> VADOutput:
        self.frames += 1
        probability = 1.0 if rms_dbfs(frame) > self._threshold_dbfs else 0.0
        return VADOutput(probability, self._gate.update(probability, frame.samples))


class EnergyVAD(VAD):
    name = "energy"

    def __init__(self, threshold_dbfs: float = -40.0) -> None:
        self.threshold_dbfs = threshold_dbfs

    def stream(self, policy: TurnTakingPolicy, sample_rate: int) -> VADStream:
        return EnergyVADStream(policy, sample_rate, self.threshold_dbfs)
