"""Build the cloud providers from Settings, so they can be chosen by name."""

from __future__ import annotations

from parley.providers.cloud.deepgram import DeepgramSTT
from parley.providers.cloud.elevenlabs import ElevenLabsTTS
from parley.providers.cloud.openai_chat import OpenAIChatLLM
from parley.providers.cloud.realtime_facets import (
    RealtimeLLM,
    RealtimeSTT,
    RealtimeTTS,
    RealtimeVAD,
)
from parley.settings import Settings


def deepgram_stt(settings: Settings) -> DeepgramSTT:
    return DeepgramSTT(settings.deepgram)


def openai_llm(settings: Settings) -> OpenAIChatLLM:
    return OpenAIChatLLM(settings.openai)


def elevenlabs_tts(settings: Settings) -> ElevenLabsTTS:
    return ElevenLabsTTS(settings.elevenlabs)


def realtime_vad(settings: Settings) -> RealtimeVAD:
    return RealtimeVAD(settings.openai_realtime)


def realtime_stt(settings: Settings) -> RealtimeSTT:
    return RealtimeSTT(settings.openai_realtime)


def realtime_llm(settings: Settings) -> RealtimeLLM:
    return RealtimeLLM(settings.openai_realtime)


def realtime_tts(settings: Settings) -> RealtimeTTS:
    return RealtimeTTS(settings.openai_realtime)
