"""The fakes' benchmark settings: replies that cycle, hangs, slow closes (real time, short)."""

from __future__ import annotations

import asyncio
import time

import pytest

from parley.providers.context import ProviderContext
from parley.testing.fakes.config import FakeProviderSettings
from parley.testing.fakes.factories import fake_llm, fake_tts
from parley.types import ChatMessage

ASKED = [ChatMessage("user", "hello")]


CONTEXT = ProviderContext(instructions="")


def settings(**fake: object) -> FakeProviderSettings:
    return FakeProviderSettings.model_validate(fake)


async def reply(llm_settings: FakeProviderSettings) -> list[str]:
    llm = fake_llm(llm_settings, CONTEXT)
    return ["".join([t async for t in llm.stream(ASKED)]) for _ in range(3)]


async def test_replies_cycle_when_asked_and_echo_after_the_script_otherwise() -> None:
    quick = {"llm_first_token_ms": 0, "llm_token_ms": 0}
    cycling = await reply(settings(llm_replies=["One.", "Two."], llm_replies_cycle=True, **quick))
    assert cycling == ["One.", "Two.", "One."]
    once = await reply(settings(llm_replies=["One.", "Two."], **quick))
    assert once == ["One.", "Two.", "You said: hello."]


async def test_llm_hangs_after_the_stated_tokens_and_closes_slowly() -> None:
    llm = fake_llm(settings(llm_first_token_ms=0, llm_token_ms=0, llm_replies=["a b c d e"],
                            llm_hang_after_tokens=2, llm_close_delay_ms=150), CONTEXT)  # fmt: skip
    tokens: list[str] = []

    async def read() -> None:
        async for token in llm.stream(ASKED):
            tokens.append(token)

    task = asyncio.create_task(read())
    await asyncio.sleep(0.2)
    assert tokens == ["a ", "b "] and not task.done()  # hung after two tokens
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert 0.14 <= time.monotonic() - started < 1.0  # the close took its 150 ms


async def test_tts_hangs_after_the_stated_chunks_and_its_stream_closes_slowly() -> None:
    tts = fake_tts(settings(tts_first_byte_ms=0, tts_chunk_ms=0, tts_hang_after_chunks=3,
                            tts_close_delay_ms=150), CONTEXT)  # fmt: skip
    chunks = 0

    async def read() -> None:
        nonlocal chunks
        async for _ in tts.synthesize("one two three four five six"):
            chunks += 1

    task = asyncio.create_task(read())
    await asyncio.sleep(0.2)
    assert chunks == 3 and not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stream = tts.stream()
    started = time.monotonic()
    await stream.aclose()
    assert 0.14 <= time.monotonic() - started < 1.0
    assert len(tts.closes) == 1


def test_the_defaults_keep_the_fakes_as_they_were() -> None:
    llm, tts = fake_llm(settings(), CONTEXT), fake_tts(settings(), CONTEXT)
    assert llm.faults == () and llm.close_delay == 0
    assert tts.faults == () and tts.close_delay == 0
