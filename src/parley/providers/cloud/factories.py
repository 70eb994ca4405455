"""Build the cloud providers from their settings sections, so they can be chosen by name."""

from __future__ import annotations

from parley.providers.cloud.config import (
    DeepgramSettings,
    ElevenLabsSettings,
    OpenAIChatSettings,
    OpenAIRealtimeSettings,
    OpenAISpeechSettings,
    OpenAITranscribeSettings,
)
from parley.providers.cloud.deepgram import DeepgramSTT
from parley.providers.cloud.elevenlabs import ElevenLabsTTS
from parley.providers.cloud.openai_chat import OpenAIChatLLM
from parley.providers.cloud.openai_speech import OpenAISpeechTTS
from parley.providers.cloud.openai_transcribe import OpenAITranscribeSTT
from parley.providers.cloud.realtime_facets import (
    RealtimeLLM,
    RealtimeSTT,
    RealtimeTTS,
    RealtimeVAD,
)
from parley.providers.context import ProviderContext


def deepgram_stt(config: DeepgramSettings, context: ProviderContext) -> DeepgramSTT:
    return DeepgramSTT(config)


def openai_llm(config: OpenAIChatSettings, context: ProviderContext) -> OpenAIChatLLM:
    return OpenAIChatLLM(config)


def elevenlabs_tts(config: ElevenLabsSettings, context: ProviderContext) -> ElevenLabsTTS:
    return ElevenLabsTTS(config)


def realtime_vad(config: OpenAIRealtimeSettings, context: ProviderContext) -> RealtimeVAD:
    return RealtimeVAD(config)


def realtime_stt(config: OpenAIRealtimeSettings, context: ProviderContext) -> RealtimeSTT:
    return RealtimeSTT(config)


def realtime_llm(config: OpenAIRealtimeSettings, context: ProviderContext) -> RealtimeLLM:
    return RealtimeLLM(config)


def realtime_tts(config: OpenAIRealtimeSettings, context: ProviderContext) -> RealtimeTTS:
    return RealtimeTTS(config)


def openai_transcribe_stt(
    config: OpenAITranscribeSettings, context: ProviderContext
) -> OpenAITranscribeSTT:
    return OpenAITranscribeSTT(config)


def openai_speech_tts(config: OpenAISpeechSettings, context: ProviderContext) -> OpenAISpeechTTS:
    return OpenAISpeechTTS(config)
