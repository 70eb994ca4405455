"""Build the fakes from their settings section, so they can be chosen by name like any provider."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from parley.providers.context import ProviderContext
from parley.testing.fakes.config import FakeProviderSettings
from parley.testing.fakes.faults import Fault, FaultKind
from parley.testing.fakes.llm import FakeLLM, ReplyScript, echo_reply
from parley.testing.fakes.stt import FakeSTT
from parley.testing.fakes.tts import FakeTTS
from parley.testing.fakes.turn import FakeTurnDetector
from parley.testing.fakes.vad import EnergyVAD
from parley.types import ChatMessage


def energy_vad(config: None, context: ProviderContext) -> EnergyVAD:
    return EnergyVAD()


def fake_turn(fake: FakeProviderSettings, context: ProviderContext) -> FakeTurnDetector:
    return FakeTurnDetector(fake.turn_probability, fake.turn_latency_ms / 1000)


def fake_stt(fake: FakeProviderSettings, context: ProviderContext) -> FakeSTT:
    """Hears every voiced segment as `fake.stt_transcript`."""
    interval = fake.stt_partial_interval_ms
    return FakeSTT(
        final_latency=fake.stt_final_latency_ms / 1000,
        partial_interval=None if interval is None else interval / 1000,
        unscripted_text=fake.stt_transcript,
    )


def fake_llm(fake: FakeProviderSettings, context: ProviderContext) -> FakeLLM:
    replies: ReplyScript = fake.llm_replies or echo_reply
    if fake.llm_replies and fake.llm_replies_cycle:
        replies = _cycling(fake.llm_replies)
    return FakeLLM(
        replies,
        first_token_latency=fake.llm_first_token_ms / 1000,
        token_latency=fake.llm_token_ms / 1000,
        faults=_hang_after(fake.llm_hang_after_tokens),
        close_delay=fake.llm_close_delay_ms / 1000,
    )


def fake_tts(fake: FakeProviderSettings, context: ProviderContext) -> FakeTTS:
    return FakeTTS(
        sample_rate=fake.tts_sample_rate,
        word_duration=fake.tts_word_ms / 1000,
        first_byte_latency=fake.tts_first_byte_ms / 1000,
        chunk_latency=fake.tts_chunk_ms / 1000,
        faults=_hang_after(fake.tts_hang_after_chunks),
        close_delay=fake.tts_close_delay_ms / 1000,
    )


def _cycling(replies: Sequence[str]) -> Callable[[Sequence[ChatMessage]], str]:
    """The replies in order, starting over once all were used."""
    next_reply = itertools.cycle(replies).__next__

    def reply(messages: Sequence[ChatMessage]) -> str:
        return next_reply()

    return reply


def _hang_after(items: int | None) -> tuple[Fault, ...]:
    """Every call hangs once it has produced `items` items (none when None)."""
    return () if items is None else (Fault(FaultKind.HANG, call=0, after=items),)
