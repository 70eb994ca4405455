"""Whole turns through the session runtime with all four real models, in real time."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from parley.audio.frames import AudioFrame
from parley.audio.wavfile import read_wav, write_wav
from parley.events import AgentResponseDone, UserTranscript
from parley.providers.local.whisper import WhisperSTT
from parley.session import Providers, Session, SessionConfig
from parley.testing.memory_transport import (
    HangUp,
    MemoryTransport,
    Play,
    ScriptedCaller,
    Silence,
    Step,
)

from .conftest import Speak, answered

QUESTION = "What is the capital city of France?"


def test_a_spoken_question_gets_a_spoken_answer(
    embedded: Providers, speak: Speak, whisper: WhisperSTT
) -> None:
    question = speak(QUESTION)

    async def call() -> tuple[MemoryTransport, Session]:
        transport = MemoryTransport(output_sample_rate=16000)
        steps: list[Step] = [Silence(0.5), Play(question), answered(1), HangUp()]
        session = Session(transport, embedded, SessionConfig())
        async with asyncio.TaskGroup() as group:
            group.create_task(session.run())
            group.create_task(ScriptedCaller(transport, steps).run())
        return transport, session

    transport, session = asyncio.run(call())
    heard = [e.text for _, e in transport.events_of(UserTranscript) if e.final]
    assert heard and "capital" in heard[0].lower()
    done = [e for _, e in transport.events_of(AgentResponseDone)]
    assert done[0].status == "completed" and done[0].text
    reply = AudioFrame(transport.listener.heard_samples().tobytes(), 16000)
    assert reply.duration > 0.5
    spoken = asyncio.run(whisper.transcribe(reply))
    assert spoken.strip(), "the agent's audio holds words"
    timings = session.turns[0]
    assert timings.voice_to_voice is not None and 0 < timings.voice_to_voice < 5.0
    assert session.closed_at is not None


def test_parley_talk_answers_a_wav_with_a_wav(speak: Speak, tmp_path: Path) -> None:
    question, reply = tmp_path / "question.wav", tmp_path / "reply.wav"
    write_wav(question, speak(QUESTION))
    result = subprocess.run(
        [sys.executable, "-m", "parley.cli", "talk", "--in", str(question), "--out", str(reply)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "capital" in result.stdout.lower()
    assert "voice-to-voice" in result.stdout
    assert read_wav(reply).duration > 0.5
