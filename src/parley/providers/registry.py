"""Providers by name: which factory builds each, and which settings section it takes.

Importing lazily keeps `parley` light: choosing the fakes never loads a model library, and
a cloud adapter's client library is only needed by those who pick it. Loading models happens
in the factory, so the server runs it in a worker thread and shows its progress.

Every factory is `factory(section, context)`: its own section of the settings (e.g.
`WhisperSettings`; None for the few that have none) and the shared `ProviderContext`. No
factory sees the root Settings, and nothing here imports it: `create` takes any object that
has the sections (`ProviderSettings`), which the root Settings in parley.settings is.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Literal, NamedTuple, Protocol

from pydantic import BaseModel

from parley.providers.base import LLM, STT, TTS, VAD, TurnDetector
from parley.providers.cloud.config import (
    DeepgramSettings,
    ElevenLabsSettings,
    OpenAIChatSettings,
    OpenAIRealtimeSettings,
    OpenAISpeechSettings,
    OpenAITranscribeSettings,
)
from parley.providers.context import ProviderContext
from parley.providers.local.config import (
    LlamaSettings,
    PiperSettings,
    SmartTurnSettings,
    WhisperSettings,
)
from parley.testing.fakes.config import FakeProviderSettings

Kind = Literal["vad", "stt", "llm", "tts", "turn"]
KINDS: tuple[Kind, ...] = ("vad", "stt", "llm", "tts")  # every session needs one of each
# Optional: a turn detector is loaded when the session policy names one (turn_detector).

# The sections a factory may take: each is a property of `ProviderSettings` of that name.
Section = Literal[
    "fake",
    "deepgram",
    "openai",
    "elevenlabs",
    "openai_realtime",
    "openai_transcribe",
    "openai_speech",
    "whisper",
    "llama",
    "piper",
    "smart_turn",
]


class ProviderSettings(Protocol):
    """The providers' sections of the settings, and the context they share."""

    @property
    def fake(self) -> FakeProviderSettings: ...
    @property
    def deepgram(self) -> DeepgramSettings: ...
    @property
    def openai(self) -> OpenAIChatSettings: ...
    @property
    def elevenlabs(self) -> ElevenLabsSettings: ...
    @property
    def openai_realtime(self) -> OpenAIRealtimeSettings: ...
    @property
    def openai_transcribe(self) -> OpenAITranscribeSettings: ...
    @property
    def openai_speech(self) -> OpenAISpeechSettings: ...
    @property
    def whisper(self) -> WhisperSettings: ...
    @property
    def llama(self) -> LlamaSettings: ...
    @property
    def piper(self) -> PiperSettings: ...
    @property
    def smart_turn(self) -> SmartTurnSettings: ...
    @property
    def provider_context(self) -> ProviderContext: ...


class Factory(NamedTuple):
    target: str  # "module:function", imported when the provider is chosen
    section: Section | None  # what it is handed; None: it has no settings


Build = Callable[[BaseModel | None, ProviderContext], Any]

FACTORIES: dict[Kind, dict[str, Factory]] = {
    "vad": {
        "energy": Factory("parley.testing.fakes.factories:energy_vad", None),
        "fake": Factory("parley.testing.fakes.factories:energy_vad", None),
        "silero": Factory("parley.providers.local.silero:create", None),
        "openai-realtime": Factory(
            "parley.providers.cloud.factories:realtime_vad", "openai_realtime"
        ),
    },
    "stt": {
        "fake": Factory("parley.testing.fakes.factories:fake_stt", "fake"),
        "whisper": Factory("parley.providers.local.whisper:create", "whisper"),
        "whisper-base": Factory("parley.providers.local.whisper:create_base", "whisper"),
        "deepgram": Factory("parley.providers.cloud.factories:deepgram_stt", "deepgram"),
        "openai-transcribe": Factory(
            "parley.providers.cloud.factories:openai_transcribe_stt", "openai_transcribe"
        ),
        "openai-realtime": Factory(
            "parley.providers.cloud.factories:realtime_stt", "openai_realtime"
        ),
    },
    "llm": {
        "fake": Factory("parley.testing.fakes.factories:fake_llm", "fake"),
        "llama": Factory("parley.providers.local.llama:create", "llama"),
        "openai": Factory("parley.providers.cloud.factories:openai_llm", "openai"),
        "openai-realtime": Factory(
            "parley.providers.cloud.factories:realtime_llm", "openai_realtime"
        ),
    },
    "tts": {
        "fake": Factory("parley.testing.fakes.factories:fake_tts", "fake"),
        "piper": Factory("parley.providers.local.piper:create", "piper"),
        "elevenlabs": Factory("parley.providers.cloud.factories:elevenlabs_tts", "elevenlabs"),
        "openai-speech": Factory(
            "parley.providers.cloud.factories:openai_speech_tts", "openai_speech"
        ),
        "openai-realtime": Factory(
            "parley.providers.cloud.factories:realtime_tts", "openai_realtime"
        ),
    },
    "turn": {
        "fake": Factory("parley.testing.fakes.factories:fake_turn", "fake"),
        "smart-turn": Factory("parley.providers.local.smart_turn:create", "smart_turn"),
    },
}
EXPECTED: dict[Kind, type[Any]] = {
    "vad": VAD,
    "stt": STT,
    "llm": LLM,
    "tts": TTS,
    "turn": TurnDetector,
}


class UnknownProviderError(ValueError):
    pass


def names(kind: Kind) -> list[str]:
    return sorted(FACTORIES[kind])


def entry(kind: Kind, name: str) -> Factory:
    try:
        return FACTORIES[kind][name]
    except KeyError:
        choices = ", ".join(names(kind))
        raise UnknownProviderError(
            f"no {kind} provider named {name!r} (choose: {choices})"
        ) from None


def factory(kind: Kind, name: str) -> Build:
    """The named provider's factory function (imports its module)."""
    module, _, function = entry(kind, name).target.partition(":")
    built: Build = getattr(importlib.import_module(module), function)
    return built


def section(settings: ProviderSettings, name: Section | None) -> BaseModel | None:
    """The settings section a factory takes (None for those that take none)."""
    if name is None:
        return None
    chosen: BaseModel = getattr(settings, name)
    return chosen


def create(kind: Kind, name: str, settings: ProviderSettings) -> Any:
    """Build the named provider (may load a model: call it from a worker thread)."""
    config = section(settings, entry(kind, name).section)
    provider = factory(kind, name)(config, settings.provider_context)
    if not isinstance(provider, EXPECTED[kind]):
        raise TypeError(f"{kind} provider {name!r} built a {type(provider).__name__}")
    return provider
