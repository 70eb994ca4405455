"""Smart Turn v3: an audio model that says whether a speaker's turn is complete.

The model (BSD-2-Clause, by Daily) takes the last 8 s of 16 kHz audio as 80-bin Whisper
log-mel features and returns the probability that the turn is complete. Its weights ship
in the pipecat-ai wheel; parley only reads the file from there (no pipecat import), so the
package can be installed without its dependencies.

Inference costs tens of milliseconds of CPU, so it runs on a thread of its own, one call
at a time per process. A call still waiting for the thread when a newer one arrives is
skipped: only the newest question about a turn matters.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import itertools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from parley.audio.frames import AudioFrame
from parley.audio.resample import resample
from parley.providers.base import ProviderError, TurnDetector, TurnSuperseded
from parley.providers.context import ProviderContext
from parley.providers.local.config import SmartTurnSettings

log = logging.getLogger("parley.providers.smart_turn")

RATE = 16000
SECONDS = 8
_MODEL_FILE = "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"


def bundled_model() -> Path:
    """Where the pipecat-ai distribution keeps Smart Turn v3.2 (found without importing it)."""
    try:
        dist = importlib.metadata.distribution("pipecat-ai")
    except importlib.metadata.PackageNotFoundError:
        raise ProviderError(
            "Smart Turn needs the pipecat-ai package for its model file "
            "(pip install --no-deps pipecat-ai==1.14.0), or smart_turn.model_path"
        ) from None
    path = Path(str(dist.locate_file(_MODEL_FILE)))
    if not path.is_file():
        raise ProviderError(f"pipecat-ai {dist.version} has no {_MODEL_FILE}")
    return path


def features(audio: np.ndarray, extractor: Any) -> np.ndarray:
    """Float 16 kHz audio -> the model's input: (1, 80, 800) log-mel features of its last
    8 s, zero-padded at the start, after zero-mean unit-variance normalisation."""
    samples = RATE * SECONDS
    x = audio[-samples:].astype(np.float32)
    if x.size < samples:
        x = np.pad(x, (samples - x.size, 0))
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    mel = extractor(x, padding=0)[:, : samples // 160]
    return np.asarray(mel, dtype=np.float32)[np.newaxis]


class SmartTurn(TurnDetector):
    name = "smart-turn"

    def __init__(self, model_path: Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort
        from faster_whisper.feature_extractor import FeatureExtractor

        path = model_path or bundled_model()
        options = ort.SessionOptions()
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._extractor = FeatureExtractor(feature_size=80)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parley-turn")
        self._serial = itertools.count(1)
        self._latest = 0
        self._lock = threading.Lock()
        self.calls = 0
        self.skipped = 0

    async def predict(self, audio: AudioFrame) -> float:
        with self._lock:
            serial = self._latest = next(self._serial)
        future = self._executor.submit(self._run, serial, audio)
        return await asyncio.wrap_future(future)

    def probability(self, audio: AudioFrame) -> float:
        """Run the model here, now (blocking: for tests and measurements)."""
        pcm = resample(audio, RATE).pcm if audio.sample_rate != RATE else audio.pcm
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        outputs = self._session.run(None, {"input_features": features(samples, self._extractor)})
        return float(np.asarray(outputs[0]).reshape(-1)[0])

    def _run(self, serial: int, audio: AudioFrame) -> float:
        if serial != self._latest:
            self.skipped += 1
            raise TurnSuperseded
        self.calls += 1
        return self.probability(audio)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def create(config: SmartTurnSettings, context: ProviderContext) -> SmartTurn:
    return SmartTurn(config.model_path, config.threads)
