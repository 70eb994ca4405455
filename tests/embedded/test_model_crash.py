"""Invariant 12 with the real models: the LLM's process segfaults in the middle of an answer.

The turn gets an error event, the call stays open, the model process restarts, and the next
question is answered with the history from before the crash intact. The LLM runs in a model
process of its own here (with the fault switch armed), so the shared one other tests use is
left alone. Slow: real models, real time, about half a minute.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.events import AgentResponseDone, ErrorEvent, SessionEnded
from parley.providers.base import ProviderError
from parley.providers.local import assets
from parley.providers.local.llama import LlamaLLM
from parley.providers.local.model_host.client import ModelHost
from parley.providers.local.piper import PiperTTS
from parley.providers.local.silero import SileroVAD
from parley.providers.local.whisper import WhisperSTT
from parley.session import Providers, Session, SessionConfig
from parley.testing.memory_transport import (
    HangUp,
    MemoryTransport,
    Play,
    ScriptedCaller,
    Silence,
    Step,
    Wait,
)

from .conftest import Speak, answered

pytestmark = pytest.mark.slow


@pytest.fixture
def fault(tmp_path: Path) -> Path:
    return tmp_path / "fault"


@pytest.fixture
def crashing_llm(fault: Path) -> Iterator[tuple[LlamaLLM, ModelHost]]:
    host = ModelHost(env={"PARLEY_MODEL_FAULT": str(fault)})
    config = SessionConfig()
    llm = LlamaLLM(assets.smollm2_gguf(), max_tokens=48, system_prompt=config.instructions,
                   host=host)  # fmt: skip
    yield llm, host
    llm.close()


def test_a_segfault_in_the_llm_costs_a_turn_not_the_call(
    silero: SileroVAD,
    whisper: WhisperSTT,
    piper: PiperTTS,
    crashing_llm: tuple[LlamaLLM, ModelHost],
    speak: Speak,
    fault: Path,
) -> None:
    llm, host = crashing_llm

    def arm(_: MemoryTransport) -> bool:
        fault.write_text("llm:segv:after=3")  # the next answer dies after three tokens
        return True

    questions = [speak(q) for q in (
        "What is the capital city of France?", "Tell me a story about a dragon.",
        "What colour is the sky?",
    )]  # fmt: skip

    async def call() -> tuple[MemoryTransport, Session]:
        transport = MemoryTransport(output_sample_rate=16000)
        steps: list[Step] = [
            Silence(0.5),
            Play(questions[0]),
            answered(1, limit=60.0),
            Wait(arm),
            Play(questions[1]),
            answered(2, limit=60.0),
            Play(questions[2]),
            answered(3, limit=60.0),
            HangUp(),
        ]
        session = Session(transport, Providers(silero, whisper, llm, piper), SessionConfig())
        async with asyncio.TaskGroup() as group:
            group.create_task(session.run())
            group.create_task(ScriptedCaller(transport, steps).run())
        return transport, session

    transport, session = asyncio.run(asyncio.wait_for(call(), 180))

    errors = [e for _, e in transport.events_of(ErrorEvent)]
    assert [e.code for e in errors] == ["llm_failed"], errors
    assert "model process died (SIGSEGV); restarting" in errors[0].message
    done = [e for _, e in transport.events_of(AgentResponseDone)]
    assert len(done) == 3 and done[2].status == "completed" and done[2].text.strip()
    ended = [e for _, e in transport.events_of(SessionEnded)]
    assert [e.reason for e in ended] == ["caller hung up"]  # the call lasted to the hangup
    history = [(m.role, m.content.lower()) for m in session.conversation.history]
    users = [text for role, text in history if role == "user"]
    # Whisper tiny.en may mishear a word ("France" as "friends"): check the words it keeps.
    assert len(users) == 3 and "capital" in users[0] and "dragon" in users[1], history
    assert "color" in users[2], history
    assert history.index(("assistant", done[0].text.lower())) < history.index(("user", users[1]))
    assert host.status().restarts == 1 and host.status().state == "ready"


def test_whisper_and_piper_crashes_fail_one_request_and_the_next_is_served(
    fault: Path, speak: Speak
) -> None:
    host = ModelHost(env={"PARLEY_MODEL_FAULT": str(fault)})
    voice, voice_config = assets.joe_voice()
    tts = PiperTTS(voice, voice_config, host=host)
    stt = WhisperSTT(assets.whisper_tiny_en(), host=host)
    question = speak("What is the capital city of France?")

    async def synthesize() -> float:
        return sum([chunk.audio.duration async for chunk in tts.synthesize("Hello there.")])

    try:
        fault.write_text("tts:abort")
        with pytest.raises(ProviderError, match=r"model process died \(SIGABRT\); restarting"):
            asyncio.run(synthesize())
        assert asyncio.run(synthesize()) > 0.3  # the restarted process speaks
        fault.write_text("stt:segv")
        with pytest.raises(ProviderError, match=r"model process died \(SIGSEGV\); restarting"):
            asyncio.run(stt.transcribe(question))
        assert "france" in asyncio.run(stt.transcribe(question)).lower()
        assert host.status().restarts == 2
    finally:
        tts.close()
        stt.close()
    assert host.status().state == "stopped"  # the last model unloaded: the process is gone
