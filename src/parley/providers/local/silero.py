"""Silero VAD on onnxruntime (no torch): speech probability per 32 ms window.

One ONNX session is shared by every stream; each stream keeps its own LSTM state and the
last samples of the previous window, which the model expects in front of each new one.

A stream whose input path listens for late decisions (`VADStream.listen`, as every
session's does) runs batched: its windows join the process-wide `WindowBatcher`, which runs
one inference for every window the process's streams made ready in one loop iteration. A
lone window costs 0.15-0.3 ms; in a batch of 8 or more, about 0.08-0.11 ms each, with the
same probabilities (see docs/benchmarks.md). Without a listener or a running loop (direct
use, tests) a stream runs each window inline as it always did.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

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
Floats = npt.NDArray[np.float32]
log = logging.getLogger("parley.vad")


class WindowBatcher:
    """The windows ready in one loop iteration, from every stream at one rate, in one run.

    The first window submitted schedules a flush with `call_soon`; windows submitted before
    it runs join it. A stream with several windows waiting has them run in successive
    batches (each needs the state the previous one left).
    """

    def __init__(self, session: onnxruntime.InferenceSession, rate: int) -> None:
        self._session = session
        self._rate = np.array(rate, dtype=np.int64)
        self._waiting: list[SileroVADStream] = []
        # The loop a flush is scheduled on: a loop that ended before running it (one
        # asyncio.run after another, as tests do) must not leave the batcher waiting forever.
        self._scheduled_on: asyncio.AbstractEventLoop | None = None
        self.runs = 0
        self.windows = 0

    def submit(self, stream: SileroVADStream) -> None:
        loop = asyncio.get_running_loop()
        if self._scheduled_on is not loop:
            loop.call_soon(self.flush)
            self._scheduled_on = loop
        self._waiting.append(stream)

    def flush(self) -> None:
        self._scheduled_on = None
        streams, self._waiting = self._waiting, []
        while streams := [s for s in streams if s.windows and not s.closed]:
            inputs = np.concatenate([s.windows[0] for s in streams])
            states = np.concatenate([s.state for s in streams], axis=1)
            try:
                output, state = self._session.run(
                    None, {"input": inputs, "state": states, "sr": self._rate}
                )
            except Exception as exc:
                for stream in streams:
                    stream.failed(exc)
                return
            self.runs += 1
            self.windows += len(streams)
            for index, stream in enumerate(streams):
                try:
                    stream.analysed(float(output[index][0]), state[:, index : index + 1])
                except Exception:  # one session's listener must not stall the others
                    log.exception("VAD decision delivery failed")


class SileroVADStream(VADStream):
    def __init__(
        self,
        session: onnxruntime.InferenceSession,
        policy: TurnTakingPolicy,
        sample_rate: int,
        batcher: Callable[[int], WindowBatcher],
    ) -> None:
        self.sample_rate = sample_rate
        model_rate = sample_rate if sample_rate in _WINDOWS else 16000
        self._resampler = StreamResampler(sample_rate, model_rate)
        self._session = session
        self._rate = np.array(model_rate, dtype=np.int64)
        self._window, context = _WINDOWS[model_rate]
        self.state: Floats = np.zeros((2, 1, 128), dtype=np.float32)
        self._context: Floats = np.zeros((1, context), dtype=np.float32)
        self._pending: Floats = np.zeros(0, dtype=np.float32)
        self._gate = SpeechGate(policy, model_rate)
        self._probability = 0.0
        self._batcher = batcher(model_rate)
        self._deliver: Callable[[VADOutput | Exception], None] | None = None
        self.windows: list[Floats] = []  # model inputs (context + window) waiting for a batch
        self.closed = False

    @property
    def probability(self) -> float:
        """Speech probability of the latest analysed window."""
        return self._probability

    def listen(self, deliver: Callable[[VADOutput | Exception], None]) -> None:
        self._deliver = deliver

    def process(self, frame: AudioFrame) -> VADOutput:
        audio = self._resampler.process(frame).as_float()
        self._pending = np.concatenate((self._pending, audio))
        if self.windows or (self._deliver is not None and _loop_running()):
            return self._batch()
        events: list[VADEvent] = []
        while len(self._pending) >= self._window:
            model_input = self._next_input()
            output, self.state = self._session.run(
                None, {"input": model_input, "state": self.state, "sr": self._rate}
            )
            self._probability = float(output[0][0])
            events.extend(self._gate.update(self._probability, self._window))
        return VADOutput(self._probability, tuple(events))

    def _next_input(self) -> Floats:
        """The next window with the context the model expects in front of it."""
        window, self._pending = self._pending[: self._window], self._pending[self._window :]
        model_input = np.concatenate((self._context, window[np.newaxis, :]), axis=1)
        self._context = model_input[:, -self._context.shape[1] :]
        return model_input

    def _batch(self) -> VADOutput:
        submit = not self.windows
        while len(self._pending) >= self._window:
            self.windows.append(self._next_input())
        if submit and self.windows:
            self._batcher.submit(self)
        return VADOutput(self._probability)

    def analysed(self, probability: float, state: Floats) -> None:
        """The batcher ran this stream's oldest waiting window."""
        self.windows.pop(0)
        self.state = state
        self._probability = probability
        events = self._gate.update(probability, self._window)
        if events and self._deliver is not None:
            self._deliver(VADOutput(probability, events))

    def failed(self, exc: Exception) -> None:
        """The batch with this stream's oldest waiting window failed: the windows waiting
        are lost (as a failed frame is on the inline path)."""
        self.windows.clear()
        if self._deliver is not None:
            self._deliver(exc)

    def close(self) -> None:
        self.closed = True
        self.windows.clear()


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class SileroVAD(VAD):
    name = "silero"

    def __init__(self) -> None:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(assets.silero_vad_model()), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._batchers: dict[int, WindowBatcher] = {}

    def batcher(self, rate: int) -> WindowBatcher:
        """The process's batcher for streams at this model rate."""
        if rate not in self._batchers:
            self._batchers[rate] = WindowBatcher(self._session, rate)
        return self._batchers[rate]

    def stream(self, policy: TurnTakingPolicy, sample_rate: int) -> VADStream:
        return SileroVADStream(self._session, policy, sample_rate, self.batcher)


def create(config: None, context: ProviderContext) -> SileroVAD:
    return SileroVAD()
