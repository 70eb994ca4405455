"""`parley talk --in question.wav --out reply.wav`: one spoken turn through the real pipeline.

The question is played into a session as a caller would speak it (in real time, in 20 ms
frames), the configured providers answer, and what the caller heard is written out. The
transcript, the reply and the turn's timings are printed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from parley.audio.frames import AudioFrame
from parley.audio.wavfile import read_wav, write_wav
from parley.events import AgentResponseDone, UserTranscript
from parley.server.providers import ProviderLoader
from parley.session import Providers, Session
from parley.settings import Settings
from parley.testing.memory_transport import (
    HangUp,
    MemoryTransport,
    Play,
    ScriptedCaller,
    Silence,
    Wait,
)
from parley.timing import STAGES, TurnTimings


@dataclass
class TalkResult:
    transcript: str
    reply: str
    reply_audio: AudioFrame
    timings: TurnTimings | None


async def load_providers(settings: Settings, console: Console) -> Providers:
    loader = ProviderLoader(settings)
    with console.status("loading providers...") as status:
        await loader.load(lambda s: status.update(f"loading {s.kind}: {s.name} ({s.state})"))
    for kind, state in loader.status.items():
        if state.state == "failed":
            raise RuntimeError(f"{kind} provider {state.name!r} failed to load: {state.error}")
        console.print(f"[dim]{kind}: {state.name} loaded in {state.load_seconds or 0:.1f} s[/]")
    return loader.providers


async def talk(question: AudioFrame, providers: Providers, settings: Settings) -> TalkResult:
    transport = MemoryTransport(output_sample_rate=16000)
    answered = Wait(lambda t: bool(t.events_of(AgentResponseDone)), then=0.2, limit=60.0)
    caller = ScriptedCaller(transport, [Silence(0.3), Play(question), answered, HangUp()])
    tools = settings.tools.toolbox()
    session = Session(transport, providers, settings.session, session_id="talk", tools=tools)
    async with asyncio.TaskGroup() as group:
        group.create_task(session.run())
        group.create_task(caller.run())
    heard = " ".join(e.text for _, e in transport.events_of(UserTranscript) if e.final)
    done = [e for _, e in transport.events_of(AgentResponseDone)]
    reply = done[0].text if done else ""
    audio = AudioFrame(transport.listener.heard_samples().tobytes(), transport.output_sample_rate)
    return TalkResult(heard, reply, audio, session.turns[0] if session.turns else None)


def print_result(result: TalkResult, console: Console) -> None:
    console.print(f"[cyan]you said:[/] {result.transcript or '(nothing heard)'}")
    console.print(f"[green]agent said:[/] {result.reply or '(no reply)'}")
    timings = result.timings
    if timings is None or timings.speech_ended is None:
        return
    table = Table("stage", "ms after the end of your speech", title="turn timings")
    for stage in STAGES:
        value = getattr(timings, stage)
        if value is not None:
            table.add_row(stage, f"{(value - timings.speech_ended) * 1000:+.0f}")
    console.print(table)
    if timings.voice_to_voice is not None:
        console.print(f"voice-to-voice: [bold]{timings.voice_to_voice * 1000:.0f} ms[/]")


async def run_talk(question: Path, reply: Path, settings: Settings, console: Console) -> int:
    audio = read_wav(question)
    providers = await load_providers(settings, console)
    result = await talk(audio, providers, settings)
    write_wav(reply, result.reply_audio)
    print_result(result, console)
    console.print(f"[dim]reply written to {reply} ({result.reply_audio.duration:.1f} s)[/]")
    return 0 if result.reply else 1
