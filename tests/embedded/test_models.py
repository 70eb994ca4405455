"""Each embedded model on real speech."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import jiwer
import numpy as np

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.providers import registry
from parley.providers.base import VADEvent, VADEventKind
from parley.providers.local.llama import LlamaLLM
from parley.providers.local.silero import SileroVAD
from parley.providers.local.whisper import WhisperSTT
from parley.settings import Settings
from parley.types import ChatMessage

from .conftest import Speak

SENTENCES = [
    "Could you tell me what the weather will be like in Paris tomorrow afternoon?",
    "I would like to book a table for four people at seven thirty tonight.",
    "Please remind me to call my sister when I get home from work.",
]


def test_whisper_hears_what_piper_says(whisper: WhisperSTT, speak: Speak) -> None:
    heard = [asyncio.run(whisper.transcribe(speak(text))) for text in SENTENCES]
    error_rate = jiwer.wer([normalize(s) for s in SENTENCES], [normalize(h) for h in heard])
    assert error_rate <= 0.1, f"word error rate {error_rate:.2f}: {heard}"


def test_whisper_hears_nothing_in_silence(whisper: WhisperSTT) -> None:
    assert asyncio.run(whisper.transcribe(AudioFrame.silence(1.0, 16000))) == ""


def test_silero_finds_the_speech_and_its_end(silero: SileroVAD, speak: Speak) -> None:
    policy = TurnTakingPolicy()
    speech = speak(SENTENCES[0])
    samples = speech.as_array()
    voiced = np.flatnonzero(np.abs(samples) > 300)
    true_onset, true_end = voiced[0] / 16000, voiced[-1] / 16000
    lead = AudioFrame.silence(1.0, 16000)
    audio = AudioFrame(lead.pcm + speech.pcm + AudioFrame.silence(1.5, 16000).pcm, 16000)
    for rate in (16000, 8000):
        clip = audio if rate == 16000 else _downsample(audio)
        stream = silero.stream(policy, rate)
        events: list[VADEvent] = []
        step = int(rate * 0.02) * 2
        for start in range(0, len(clip.pcm), step):
            events.extend(stream.process(AudioFrame(clip.pcm[start : start + step], rate)).events)
        starts = [e.offset for e in events if e.kind is VADEventKind.START]
        ends = [e.offset for e in events if e.kind is VADEventKind.END]
        assert len(starts) == 1 and len(ends) == 1, events
        assert abs(starts[0] - (1.0 + true_onset)) < 0.1, (rate, starts, true_onset)
        assert abs(ends[0] - (1.0 + true_end)) < 0.15, (rate, ends, true_end)


def test_silero_stays_quiet_on_noise(silero: SileroVAD) -> None:
    noise = np.random.default_rng(7).normal(0, 10 ** (-40 / 20), 16000 * 3)
    stream = silero.stream(TurnTakingPolicy(), 16000)
    frame = AudioFrame.from_float(noise, 16000)
    assert stream.process(frame).events == ()


def test_llama_streams_a_short_spoken_answer(llama: LlamaLLM) -> None:
    async def ask() -> list[str]:
        messages = [
            ChatMessage("system", "You are a helpful voice assistant. Answer briefly."),
            ChatMessage("user", "What is the capital of France?"),
        ]
        return [token async for token in llama.stream(messages)]

    tokens = asyncio.run(ask())
    assert len(tokens) > 1  # streamed, not in one piece
    assert "".join(tokens).strip()


def test_closing_the_llm_stream_frees_the_model_at_once(llama: LlamaLLM) -> None:
    async def two_sessions() -> str:
        long = [ChatMessage("user", "Count slowly from one to two hundred, in words.")]
        stream = llama.stream(long)
        await anext(stream)
        await stream.aclose()  # the thread stops at its next token
        short = [ChatMessage("user", "Say hello.")]
        return "".join([token async for token in llama.stream(short)])

    assert asyncio.run(asyncio.wait_for(two_sessions(), timeout=30)).strip()


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def _downsample(audio: AudioFrame) -> AudioFrame:
    from parley.audio.resample import resample

    return resample(audio, 8000)


def test_whisper_base_is_assembled_from_its_two_packages_and_hears_piper(
    speak: Speak, tmp_path: Path
) -> None:
    settings = Settings.model_validate({"whisper": {"model": "base", "cache_dir": str(tmp_path)}})
    stt = registry.create("stt", "whisper-base", settings)
    assert isinstance(stt, WhisperSTT)
    assert stt.name == "whisper-base"
    # (Base writes numbers as digits, "7.30": a sentence without any keeps the count fair.)
    heard = asyncio.run(stt.transcribe(speak(SENTENCES[2])))
    error_rate = jiwer.wer(normalize(SENTENCES[2]), normalize(heard))
    assert error_rate <= 0.15, heard
