"""Real models, loaded once for the whole test run, and real speech made with Piper."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from parley.audio.frames import AudioFrame
from parley.audio.resample import resample
from parley.providers import registry
from parley.providers.local.llama import LlamaLLM
from parley.providers.local.piper import PiperTTS
from parley.providers.local.silero import SileroVAD
from parley.providers.local.whisper import WhisperSTT
from parley.session import Providers
from parley.settings import Settings

Speak = Callable[[str], AudioFrame]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.model_validate({})  # the embedded defaults, whatever the environment says


@pytest.fixture(scope="session")
def piper(settings: Settings) -> PiperTTS:
    provider = registry.create("tts", "piper", settings)
    assert isinstance(provider, PiperTTS)
    return provider


@pytest.fixture(scope="session")
def whisper(settings: Settings) -> WhisperSTT:
    provider = registry.create("stt", "whisper", settings)
    assert isinstance(provider, WhisperSTT)
    return provider


@pytest.fixture(scope="session")
def silero(settings: Settings) -> SileroVAD:
    provider = registry.create("vad", "silero", settings)
    assert isinstance(provider, SileroVAD)
    return provider


@pytest.fixture(scope="session")
def llama(settings: Settings) -> LlamaLLM:
    provider = registry.create("llm", "llama", settings)
    assert isinstance(provider, LlamaLLM)
    return provider


@pytest.fixture(scope="session")
def embedded(silero: SileroVAD, whisper: WhisperSTT, llama: LlamaLLM, piper: PiperTTS) -> Providers:
    return Providers(silero, whisper, llama, piper)


@pytest.fixture(scope="session")
def speak(piper: PiperTTS) -> Speak:
    """Piper's voice saying `text`, at 16 kHz: natural speech for tests, made on the spot."""
    cache: dict[str, AudioFrame] = {}

    async def synthesize(text: str) -> AudioFrame:
        chunks = [chunk async for chunk in piper.synthesize(text)]
        return AudioFrame(b"".join(c.audio.pcm for c in chunks), piper.sample_rate)

    def say(text: str) -> AudioFrame:
        if text not in cache:
            cache[text] = resample(asyncio.run(synthesize(text)), 16000)
        return cache[text]

    return say
