"""Providers by name: which module builds each, imported only when chosen.

Importing lazily keeps `parley` light: choosing the fakes never loads a model library, and
a cloud adapter's client library is only needed by those who pick it. Each factory takes the
Settings and returns a ready provider; loading models happens there, so the server runs it
in a worker thread and shows its progress.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from parley.providers.base import LLM, STT, TTS, VAD
from parley.settings import Settings

Kind = Literal["vad", "stt", "llm", "tts"]
KINDS: tuple[Kind, ...] = ("vad", "stt", "llm", "tts")
P = TypeVar("P", VAD, STT, LLM, TTS)

# name -> "module:function"; the function takes Settings and returns the provider.
FACTORIES: dict[Kind, dict[str, str]] = {
    "vad": {
        "energy": "parley.providers.fake.factories:energy_vad",
        "fake": "parley.providers.fake.factories:energy_vad",
        "silero": "parley.providers.local.silero:create",
        "openai-realtime": "parley.providers.cloud.factories:realtime_vad",
    },
    "stt": {
        "fake": "parley.providers.fake.factories:fake_stt",
        "whisper": "parley.providers.local.whisper:create",
        "whisper-base": "parley.providers.local.whisper:create_base",
        "deepgram": "parley.providers.cloud.factories:deepgram_stt",
        "openai-realtime": "parley.providers.cloud.factories:realtime_stt",
    },
    "llm": {
        "fake": "parley.providers.fake.factories:fake_llm",
        "llama": "parley.providers.local.llama:create",
        "openai": "parley.providers.cloud.factories:openai_llm",
        "openai-realtime": "parley.providers.cloud.factories:realtime_llm",
    },
    "tts": {
        "fake": "parley.providers.fake.factories:fake_tts",
        "piper": "parley.providers.local.piper:create",
        "elevenlabs": "parley.providers.cloud.factories:elevenlabs_tts",
        "openai-realtime": "parley.providers.cloud.factories:realtime_tts",
    },
}
EXPECTED: dict[Kind, type[Any]] = {"vad": VAD, "stt": STT, "llm": LLM, "tts": TTS}


class UnknownProviderError(ValueError):
    pass


def names(kind: Kind) -> list[str]:
    return sorted(FACTORIES[kind])


def factory(kind: Kind, name: str) -> Callable[[Settings], Any]:
    try:
        target = FACTORIES[kind][name]
    except KeyError:
        choices = ", ".join(names(kind))
        raise UnknownProviderError(
            f"no {kind} provider named {name!r} (choose: {choices})"
        ) from None
    module, _, function = target.partition(":")
    built: Callable[[Settings], Any] = getattr(importlib.import_module(module), function)
    return built


def create(kind: Kind, name: str, settings: Settings) -> Any:
    """Build the named provider (may load a model: call it from a worker thread)."""
    provider = factory(kind, name)(settings)
    if not isinstance(provider, EXPECTED[kind]):
        raise TypeError(f"{kind} provider {name!r} built a {type(provider).__name__}")
    return provider
