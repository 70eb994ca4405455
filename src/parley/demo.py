"""`parley demo`: a scripted call with the fake providers, printed as it happens.

It shows the turn-taking rules at work with no model and no network: a question and its
answer, a backchannel that does not stop the agent, a cough, an interruption, a hangup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from rich.console import Console

from parley.events import (
    AgentPaused,
    AgentResponseDone,
    AgentResumed,
    AgentSpeaking,
    AgentTranscript,
    ErrorEvent,
    SessionEnded,
    SessionEvent,
    TurnMetrics,
    UserSpeechStarted,
    UserTranscript,
)
from parley.session import Providers, Session
from parley.testing.fakes import EnergyVAD, FakeLLM, FakeSTT, FakeTTS
from parley.testing.memory_transport import (
    HangUp,
    MemoryTransport,
    Noise,
    Say,
    ScriptedCaller,
    Silence,
    Step,
    Wait,
    stt_script,
)

SCRIPT: list[Step] = [
    Silence(0.5),
    Say("hi, what can you tell me about the weather today", 2.0),
    Wait(lambda t: len(t.events_of(AgentSpeaking)) >= 1, then=1.5),
    Say("uh-huh", 0.4),
    Silence(2.0),
    Noise(0.3),
    Silence(2.5),
    Say("sorry to interrupt, will it rain tomorrow", 1.8),
    Wait(lambda t: len(t.events_of(AgentResponseDone)) >= 2, then=1.0),
    HangUp(),
]
REPLIES = [
    "Today looks bright and mild, with a light breeze from the west. Clouds may gather in "
    "the evening, but it should stay dry until late at night.",
    "Yes, some rain is likely tomorrow afternoon, so take an umbrella.",
]


def describe(event: SessionEvent) -> str | None:
    match event:
        case UserSpeechStarted():
            return "[cyan]person starts speaking[/]"
        case UserTranscript(text=text, final=True):
            return f"[cyan]person:[/] {text}"
        case AgentTranscript(text=text):
            return f"[green]agent says:[/] {text}"
        case AgentSpeaking():
            return "[green]agent audio starts[/]"
        case AgentPaused():
            return "[yellow]agent pauses (deciding)[/]"
        case AgentResumed():
            return "[yellow]agent resumes where it paused[/]"
        case AgentResponseDone(status=status, text=text):
            return f"[green]response {status}[/]: heard {text!r}"
        case TurnMetrics(timings=t) if t.voice_to_voice is not None:
            return f"[magenta]voice-to-voice {t.voice_to_voice * 1000:.0f} ms[/]"
        case ErrorEvent(code=code, message=message):
            return f"[red]error {code}: {message}[/]"
        case SessionEnded(reason=reason):
            return f"[bold]call ended: {reason}[/]"
    return None


async def run_demo(script: Sequence[Step] = SCRIPT, console: Console | None = None) -> Session:
    console = console or Console()
    transport = MemoryTransport()
    providers = Providers(EnergyVAD(), FakeSTT(stt_script(script)), FakeLLM(REPLIES), FakeTTS())
    session = Session(transport, providers, session_id="demo")
    loop = asyncio.get_running_loop()
    start = loop.time()

    def show(event: SessionEvent) -> None:
        line = describe(event)
        if line is not None:
            console.print(f"[dim]{loop.time() - start:6.2f}s[/]  {line}")

    session.observers.append(show)
    async with asyncio.TaskGroup() as group:
        group.create_task(session.run())
        group.create_task(ScriptedCaller(transport, script).run())
    return session
