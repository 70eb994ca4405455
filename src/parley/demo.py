"""`parley demo`: a scripted call with the fake providers, printed as it happens.

It shows the turn-taking rules at work with no model and no network: a question and its
answer, a backchannel that does not stop the agent, a cough, an interruption answered with
a tool call (a slow one: the agent says a filler while it runs), and the agent ending the
call itself with the built-in `end_call` tool once the person says goodbye.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

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
from parley.session.tools import ToolBox
from parley.session.tools.builtin import end_call_tool
from parley.session.tools.python import python_tool
from parley.testing.fakes import EnergyVAD, FakeLLM, FakeSTT, FakeTTS
from parley.testing.fakes.llm import Scripted, ToolReply
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
from parley.types import ChatMessage, ToolCall

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
    Say("great, thanks, that is all, bye", 1.6),
    Wait(lambda t: bool(t.events_of(SessionEnded)), limit=30.0),  # the agent hangs up
    HangUp(),
]
TODAY = (
    "Today looks bright and mild, with a light breeze from the west. Clouds may gather in "
    "the evening, but it should stay dry until late at night."
)


def scripted_model(messages: Sequence[ChatMessage]) -> Scripted:
    """The demo's model: answers, calls `get_forecast` for tomorrow, and `end_call` at the
    goodbye, then speaks from what the tools returned."""
    last = messages[-1]
    if last.role == "tool":
        if "rain" in last.content:
            return "Yes, rain is likely tomorrow afternoon, so take an umbrella."
        return "You are welcome. Goodbye, and stay dry!"
    if "tomorrow" in last.content:
        return ToolReply("", (ToolCall("call_1", "get_forecast", '{"day": "tomorrow"}'),))
    if "bye" in last.content:
        return ToolReply("", (ToolCall("call_2", "end_call", '{"reason": "the person said bye"}'),))
    return TODAY


def forecast_tool(say: Callable[[str], None]) -> ToolBox:
    async def get_forecast(day: str) -> dict[str, str]:
        """The weather forecast for a day."""
        say(f"[blue]tool get_forecast(day={day!r}) runs (1.5 s)[/]")
        await asyncio.sleep(1.5)
        return {"day": day, "forecast": "rain in the afternoon", "chance": "70%"}

    return ToolBox.of(
        [python_tool(get_forecast), end_call_tool()], filler="One moment.", filler_after_s=0.8
    )


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
            tools = f", {t.tool_seconds * 1000:.0f} ms in tools" if t.tool_calls else ""
            return f"[magenta]voice-to-voice {t.voice_to_voice * 1000:.0f} ms{tools}[/]"
        case ErrorEvent(code=code, message=message):
            return f"[red]error {code}: {message}[/]"
        case SessionEnded(reason=reason):
            return f"[bold]call ended: {reason}[/]"
    return None


async def run_demo(script: Sequence[Step] = SCRIPT, console: Console | None = None) -> Session:
    console = console or Console()
    transport = MemoryTransport()
    llm = FakeLLM(scripted_model)
    providers = Providers(EnergyVAD(), FakeSTT(stt_script(script)), llm, FakeTTS())
    loop = asyncio.get_running_loop()
    start = loop.time()

    def say(line: str) -> None:
        console.print(f"[dim]{loop.time() - start:6.2f}s[/]  {line}")

    session = Session(transport, providers, session_id="demo", tools=forecast_tool(say))

    def show(event: SessionEvent) -> None:
        line = describe(event)
        if line is not None:
            say(line)

    session.observers.append(show)
    async with asyncio.TaskGroup() as group:
        group.create_task(session.run())
        group.create_task(ScriptedCaller(transport, script).run())
    return session
