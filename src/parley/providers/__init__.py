"""Providers of VAD, STT, LLM and TTS behind narrow interfaces (invariant 8)."""

from parley.providers.base import (
    LLM,
    STT,
    TTS,
    VAD,
    ProviderError,
    STTStream,
    Transcript,
    TTSChunk,
    TTSStream,
    TurnDetector,
    VADEvent,
    VADEventKind,
    VADOutput,
    VADStream,
)

__all__ = [
    "LLM",
    "STT",
    "TTS",
    "VAD",
    "ProviderError",
    "STTStream",
    "TTSChunk",
    "TTSStream",
    "Transcript",
    "TurnDetector",
    "VADEvent",
    "VADEventKind",
    "VADOutput",
    "VADStream",
]
