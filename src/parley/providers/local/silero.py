"""Silero VAD on onnxruntime (no torch): speech probability per 32 ms window.

One ONNX session is shared by every stream; each stream keeps its own LSTM state and the
last samples of the previous window, which the model expects in front of each new one.
About 0.2 ms per window on one thread, so it runs inline on the input path (the cost of a
thread hop would be larger than the inference).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import onnxruntime

from parley.audio.frames import AudioFrame
from parley.audio.resample import StreamResampler
from parley.conversation.policy import TurnTakingPolicy
from parley.providers.base import VAD, VADEvent, VADOutput, VADStream
from parley.providers.context import ProviderContext
from parley.providers.local import assets
from parley.providers.vad_gate import SpeechGate

# Silero's native rates: window and context samples for each.
_WINDOWS = {16000: (512, 64), 8000: (256, 32)}


class SileroVADStream(VADStream):
    def __init__(
        self, session: onnxruntime.InferenceSession, policy: TurnTakingPolicy, sample_rate: int
    ) -> None:
        self.sample_rate = sample_rate
        model_rate = sample_rate if sample_rate in _WINDOWS else 16000
        self._resampler = StreamResampler(sample_rate, model_rate)
        self._session = session
        self._rate = np.array(model_rate, dtype=np.int64)
        self._window, context = _WINDOWS[model_rate]
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, context), dtype=np.float32)
        self._pending: npt.NDArray[np.float32] = np.zeros(0, dtype=np.float32)
        self._gate = SpeechGate(policy, model_rate)
        self._probability = 0.0

    def process(self, frame: AudioFrame) -> VADOutput:
        audio = self._resampler.process(frame).as_float()
        self._pending = np.concatenate((self._pending, audio))
        events: list[VADEvent] = []
        while len(self._pending) >= self._window:
            window, self._pending = self._pending[: self._window], self._pending[self._window :]
            model_input = np.concatenate((self._context, window[np.newaxis, :]), axis=1)
            output, self._state = self._session.run(
                None, {"input": model_input, "state": self._state, "sr": self._rate}
            )
            self._context = model_input[:, -self._context.shape[1] :]
            self._probability = float(output[0][0])
            events.extend(self._gate.update(self._probability, self._window))
        return VADOutput(self._probability, tuple(events))


class SileroVAD(VAD):
    name = "silero"

    def __init__(self) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(assets.silero_vad_model()), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def stream(self, policy: TurnTakingPolicy, sample_rate: int) -> VADStream:
        return SileroVADStream(self._session, policy, sample_rate)


def create(config: None, context: ProviderContext) -> SileroVAD:
    return SileroVAD()
