"""Scenario harness: a scripted call on a virtual clock.

The event loop is looptime's: its clock jumps to the next timer whenever nothing is ready to
run, so a 30-second call takes milliseconds and every timing is exact and repeatable. Code
under test uses asyncio as usual and cannot tell.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import looptime

from parley.events import AgentResponseStarted, AgentSpeaking, ErrorEvent
from parley.providers.base import VAD, TurnDetector
from parley.session import Providers, Session, SessionConfig
from parley.session.tools import ToolBox
from parley.testing.fakes import EnergyVAD, FakeLLM, FakeSTT, FakeTTS
from parley.testing.memory_transport import MemoryTransport, ScriptedCaller, Step, stt_script

T = TypeVar("T")
FRAME = 0.02


def run_virtual(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a fresh event loop with a virtual clock starting at 0."""
    with asyncio.Runner(loop_factory=lambda: looptime.new_event_loop(start=0)) as runner:
        return runner.run(main())


class Recorded:
    """What a finished call's MemoryTransport recorded (shared with the cloud tests' CloudCall)."""

    transport: MemoryTransport

    def events(self, kind: type[T]) -> list[tuple[float, T]]:
        return self.transport.events_of(kind)

    def sent_times(self, response_id: str) -> list[float]:
        """When each frame of `response_id` was sent."""
        return [t for t, f in self.transport.sent if f.response_id == response_id]


@dataclass
class Call(Recorded):
    transport: MemoryTransport
    session: Session
    caller: ScriptedCaller
    stt: FakeSTT
    llm: FakeLLM
    tts: FakeTTS
    tasks_left: set[asyncio.Task[Any]] = field(default_factory=set)

    def errors(self) -> list[str]:
        return [e.code for _, e in self.events(ErrorEvent)]


def converse(
    steps: Sequence[Step],
    *,
    vad: VAD | None = None,
    stt: FakeSTT | None = None,
    llm: FakeLLM | None = None,
    tts: FakeTTS | None = None,
    config: SessionConfig | None = None,
    output_rate: int = 16000,
    caller_rate: int = 16000,
    transport: Callable[[int], MemoryTransport] = MemoryTransport,
    prepare: Callable[[Session], None] | None = None,
    turn: TurnDetector | None = None,
    tools: ToolBox | None = None,
) -> Call:
    """Run a whole scripted call to the end (the script should end with HangUp).
    `transport` makes the transport from the output rate; `prepare` sees the session
    before it runs (to attach observers, say)."""

    async def main() -> Call:
        memory = transport(output_rate)
        fake_stt = stt or FakeSTT(stt_script(steps))
        fake_llm = llm or FakeLLM()
        fake_tts = tts or FakeTTS(sample_rate=output_rate)
        providers = Providers(vad or EnergyVAD(), fake_stt, fake_llm, fake_tts, turn)
        session = Session(memory, providers, config, tools=tools)
        if prepare is not None:
            prepare(session)
        caller = ScriptedCaller(memory, steps, sample_rate=caller_rate)
        call = Call(memory, session, caller, fake_stt, fake_llm, fake_tts)
        async with asyncio.TaskGroup() as group:
            group.create_task(session.run())
            group.create_task(caller.run())
        call.tasks_left = asyncio.all_tasks() - {asyncio.current_task()}
        memory.listener.settle(asyncio.get_running_loop().time())
        return call

    return run_virtual(main)


def agent_started_speaking(count: int) -> Callable[[MemoryTransport], bool]:
    """Predicate: the `count`-th response's first audio went out."""
    return lambda t: len(t.events_of(AgentSpeaking)) >= count


def response_started(count: int) -> Callable[[MemoryTransport], bool]:
    """Predicate: the `count`-th response was started (LLM called)."""
    return lambda t: len(t.events_of(AgentResponseStarted)) >= count


def contiguous(samples: Any) -> bool:
    """True if fake-TTS samples count up by one throughout: nothing lost, nothing repeated."""
    import numpy as np

    from parley.testing.fakes.tts import COUNTER_WRAP

    values = np.asarray(samples, dtype=np.int64)
    steps = np.diff(values)
    return bool(np.all((steps == 1) | (steps == 1 - COUNTER_WRAP)))
