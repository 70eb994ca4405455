"""Build the fakes from settings, so they can be chosen by name like any provider."""

from __future__ import annotations

from parley.providers.fake.llm import FakeLLM, echo_reply
from parley.providers.fake.stt import FakeSTT
from parley.providers.fake.tts import FakeTTS
from parley.providers.fake.vad import EnergyVAD
from parley.settings import Settings


def energy_vad(settings: Settings) -> EnergyVAD:
    return EnergyVAD()


def fake_stt(settings: Settings) -> FakeSTT:
    """Hears every voiced segment as `fake.stt_transcript`."""
    fake = settings.fake
    interval = fake.stt_partial_interval_ms
    return FakeSTT(
        final_latency=fake.stt_final_latency_ms / 1000,
        partial_interval=None if interval is None else interval / 1000,
        unscripted_text=fake.stt_transcript,
    )


def fake_llm(settings: Settings) -> FakeLLM:
    fake = settings.fake
    return FakeLLM(
        fake.llm_replies or echo_reply,
        first_token_latency=fake.llm_first_token_ms / 1000,
        token_latency=fake.llm_token_ms / 1000,
    )


def fake_tts(settings: Settings) -> FakeTTS:
    fake = settings.fake
    return FakeTTS(
        sample_rate=fake.tts_sample_rate,
        word_duration=fake.tts_word_ms / 1000,
        first_byte_latency=fake.tts_first_byte_ms / 1000,
        chunk_latency=fake.tts_chunk_ms / 1000,
    )
