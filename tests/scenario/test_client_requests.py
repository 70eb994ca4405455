"""Typed text, keypad keys, cancel and manual turns through a running session (virtual clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from parley.conversation import TurnTakingPolicy
from parley.events import AgentResponseDone, AgentSpeaking, UserDtmf, UserSpeechStarted
from parley.session import Providers, Session, SessionConfig
from parley.session.port import DtmfDigit
from parley.testing.fakes import EnergyVAD, FakeLLM, FakeSTT, FakeTTS
from parley.testing.memory_transport import (
    HangUp,
    MemoryTransport,
    Say,
    ScriptedCaller,
    Silence,
    Step,
    stt_script,
)
from tests.conftest import Measure

from .harness import FRAME, run_virtual

LONG = " ".join(f"w{i}" for i in range(16)) + "."


async def until(check: Callable[[], bool]) -> None:
    """Look every frame period, as the caller's clock ticks (polling is the point here)."""
    while not check():  # noqa: ASYNC110
        await asyncio.sleep(FRAME)


def call_with(
    steps: list[Step],
    requests: Callable[[Session, MemoryTransport], Coroutine[Any, Any, None]],
    *,
    policy: TurnTakingPolicy | None = None,
    replies: list[str] | None = None,
) -> tuple[Session, MemoryTransport, FakeLLM]:
    async def main() -> tuple[Session, MemoryTransport, FakeLLM]:
        transport = MemoryTransport()
        llm = FakeLLM(replies or [LONG, "Sure."])
        providers = Providers(EnergyVAD(), FakeSTT(stt_script(steps)), llm, FakeTTS())
        config = SessionConfig(policy=policy or TurnTakingPolicy())
        session = Session(transport, providers, config)
        async with asyncio.TaskGroup() as group:
            group.create_task(session.run())
            group.create_task(ScriptedCaller(transport, steps).run())
            group.create_task(requests(session, transport))
        return session, transport, llm

    return run_virtual(main)


def test_typed_text_interrupts_the_agent_and_is_answered() -> None:
    async def requests(session: Session, transport: MemoryTransport) -> None:
        await until(lambda: bool(transport.events_of(AgentSpeaking)))
        await asyncio.sleep(1.0)
        session.submit_text("actually, tell me about Mars")

    steps: list[Step] = [Silence(0.3), Say("tell me a story", 1.0), Silence(8.0), HangUp()]
    _, transport, llm = call_with(steps, requests)
    assert [c[-1].content for c in llm.calls] == ["tell me a story", "actually, tell me about Mars"]
    assert llm.calls[1][-2].interrupted
    statuses = [e.status for _, e in transport.events_of(AgentResponseDone)]
    assert statuses == ["interrupted", "completed"]


def test_keypad_keys_stop_the_agent_at_the_first_key_and_are_answered(measured: Measure) -> None:
    pressed: list[float] = []

    async def requests(session: Session, transport: MemoryTransport) -> None:
        await until(lambda: bool(transport.events_of(AgentSpeaking)))
        await asyncio.sleep(1.0)
        for key in "42#":
            pressed.append(asyncio.get_running_loop().time())
            transport.feed(DtmfDigit(key))
            await asyncio.sleep(0.3)

    steps: list[Step] = [Silence(0.3), Say("what is my balance", 1.0), Silence(8.0), HangUp()]
    _, transport, llm = call_with(steps, requests)
    assert [c[-1].content for c in llm.calls] == ["what is my balance", "[keypad: 42#]"]
    assert llm.calls[1][-2].interrupted
    stop = transport.clears[0] - pressed[0]
    last_old = max(t for t, f in transport.sent if f.response_id == "resp_1") - pressed[0]
    assert 0 <= stop < FRAME and last_old <= 0
    answered = min(t for t, f in transport.sent if f.response_id == "resp_2") - pressed[-1]
    assert answered < 1.0  # the end key completes the entry: no keypad timeout
    assert [e.digit for _, e in transport.events_of(UserDtmf)] == ["4", "2", "#"]
    measured("keypad: first key to clear", stop * 1000, "ms")
    measured("keypad: end key to the answer's first frame", answered * 1000, "ms")


def test_cancel_stops_the_audio_at_once_and_keeps_what_was_heard() -> None:
    cancelled_at: list[float] = []

    async def requests(session: Session, transport: MemoryTransport) -> None:
        await until(lambda: bool(transport.events_of(AgentSpeaking)))
        await asyncio.sleep(1.2)
        cancelled_at.append(asyncio.get_running_loop().time())
        session.cancel_response()

    steps: list[Step] = [Silence(0.3), Say("tell me a story", 1.0), Silence(6.0), HangUp()]
    session, transport, _ = call_with(steps, requests)
    assert max(t for t, f in transport.sent if f.response_id == "resp_1") <= cancelled_at[0]
    assert transport.clears[0] == cancelled_at[0]
    [done] = [e for _, e in transport.events_of(AgentResponseDone)]
    assert done.status == "cancelled"
    assert 4 <= len(done.text.split()) <= 6  # ~1.2 s of 0.25 s words
    assert session.conversation.history[-1].content == done.text


def test_manual_turns_answer_only_when_asked() -> None:
    async def requests(session: Session, transport: MemoryTransport) -> None:
        await asyncio.sleep(4.0)
        assert not transport.sent  # the turn ended long ago, and nobody asked for a response
        session.request_response()

    steps: list[Step] = [Silence(0.3), Say("hello there", 1.0), Silence(6.0), HangUp()]
    manual = TurnTakingPolicy(auto_respond=False)
    _, transport, llm = call_with(steps, requests, policy=manual, replies=["Hi."])
    assert [c[-1].content for c in llm.calls] == ["hello there"]
    assert transport.sent[0][0] >= 4.0


def test_new_vad_settings_in_the_silence_after_speech_still_end_the_turn() -> None:
    """The fresh VAD never heard the speech, so it would never end it: the restart does."""
    updated: list[float] = []

    async def requests(session: Session, transport: MemoryTransport) -> None:
        await asyncio.sleep(1.5)  # speech ran 0.3-1.3 s; its 500 ms of silence is not over
        updated.append(asyncio.get_running_loop().time())
        session.update_policy(TurnTakingPolicy(min_silence_ms=700))

    steps: list[Step] = [Silence(0.3), Say("hello there", 1.0), Silence(5.0), HangUp()]
    _, transport, llm = call_with(steps, requests, replies=["Hi."])
    assert [c[-1].content for c in llm.calls] == ["hello there"]
    assert transport.sent[0][0] - updated[0] < 1.0


def test_new_vad_settings_mid_speech_keep_one_turn() -> None:
    async def requests(session: Session, transport: MemoryTransport) -> None:
        await asyncio.sleep(1.0)  # in the middle of the speech
        session.update_policy(TurnTakingPolicy(min_silence_ms=700))

    steps: list[Step] = [Silence(0.3), Say("hello there my friend", 2.0), Silence(5.0), HangUp()]
    _, _, llm = call_with(steps, requests, replies=["Hi."])
    assert [c[-1].content for c in llm.calls] == ["hello there my friend"]


def test_speech_after_new_vad_settings_is_placed_on_the_clock_where_it_began() -> None:
    """The fresh VAD counts its audio from zero; the onset must still land on the clock."""

    async def requests(session: Session, transport: MemoryTransport) -> None:
        await asyncio.sleep(1.0)
        session.update_policy(TurnTakingPolicy(min_silence_ms=700))

    steps: list[Step] = [Silence(2.0), Say("hello there", 1.0), Silence(3.0), HangUp()]
    _, transport, _ = call_with(steps, requests, replies=["Hi."])
    [(_, started)] = transport.events_of(UserSpeechStarted)
    assert abs(started.at - 2.0) <= 2 * FRAME, f"onset at {started.at:.3f} s"
