"""Voice-to-voice latency of the embedded stack, turn by turn, through a real session.

A scripted caller asks questions in Piper's voice over the in-memory transport, waits for
each answer to finish, and asks the next. Every turn's timing record is collected and the
distribution of voice-to-voice and of each stage is printed (and written as JSON).

    .venv/bin/python bench/embedded_turns.py --turns 12 --out bench/results/embedded.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from pathlib import Path

from parley.audio.frames import AudioFrame
from parley.audio.resample import resample
from parley.events import AgentResponseDone
from parley.providers import registry
from parley.session import Providers, Session
from parley.settings import Settings
from parley.timing import TurnTimings
from parley.transports.memory import (
    HangUp,
    MemoryTransport,
    Play,
    ScriptedCaller,
    Silence,
    Step,
    Wait,
)

QUESTIONS = [
    "What is the capital city of France?",
    "Can you recommend a good book to read?",
    "How far away is the moon?",
    "What should I cook for dinner tonight?",
    "Tell me a fun fact about octopuses.",
    "What time does the sun usually set in summer?",
    "How do I make a cup of green tea?",
    "Why is the sky blue?",
    "What is a good name for a small dog?",
    "How many legs does a spider have?",
    "What is the tallest mountain in the world?",
    "Could you suggest a weekend hobby?",
]
STAGES = [
    ("endpoint (min silence)", "speech_ended", "endpoint_decided"),
    ("transcript after endpoint", "endpoint_decided", "stt_final"),
    ("commit after transcript", "stt_final", "committed"),
    ("LLM first token", "committed", "llm_first_token"),
    ("TTS first audio after first token", "llm_first_token", "tts_first_audio"),
    ("first frame out after TTS audio", "tts_first_audio", "first_audio_out"),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def synthesize(providers: Providers, text: str) -> AudioFrame:
    chunks = [chunk async for chunk in providers.tts.synthesize(text)]  # type: ignore[attr-defined]
    audio = AudioFrame(b"".join(c.audio.pcm for c in chunks), providers.tts.sample_rate)
    return resample(audio, 16000)


async def run(turns: int) -> tuple[list[TurnTimings], dict[str, float]]:
    settings = Settings.model_validate({})
    loads: dict[str, float] = {}
    built = {}
    for kind in registry.KINDS:
        started = time.perf_counter()
        built[kind] = await asyncio.to_thread(
            registry.create, kind, getattr(settings, kind), settings
        )
        loads[kind] = time.perf_counter() - started
    providers = Providers(**built)
    steps: list[Step] = [Silence(0.5)]
    for index in range(turns):
        question = QUESTIONS[index % len(QUESTIONS)]
        steps.append(Play(await synthesize(providers, question)))
        steps.append(
            Wait(lambda t, n=index + 1: len(t.events_of(AgentResponseDone)) >= n, then=0.5)
        )
    steps.append(HangUp())
    transport = MemoryTransport(output_sample_rate=16000)
    session = Session(transport, providers, settings.session, session_id="bench")
    async with asyncio.TaskGroup() as group:
        group.create_task(session.run())
        group.create_task(ScriptedCaller(transport, steps).run())
    return session.turns, loads


def summarize(turns: list[TurnTimings], loads: dict[str, float]) -> dict[str, object]:
    v2v = [t.voice_to_voice for t in turns if t.voice_to_voice is not None]
    stages = {}
    for label, start, end in STAGES:
        values = [
            getattr(t, end) - getattr(t, start)
            for t in turns
            if getattr(t, start) is not None and getattr(t, end) is not None
        ]
        stages[label] = {"p50_ms": 1000 * statistics.median(values), "n": len(values)}
    return {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "turns": len(turns),
        "load_seconds": loads,
        "voice_to_voice_ms": {
            "p50": 1000 * statistics.median(v2v),
            "p95": 1000 * percentile(v2v, 0.95),
            "min": 1000 * min(v2v),
            "max": 1000 * max(v2v),
            "n": len(v2v),
        },
        "stages_p50": stages,
        "per_turn": [t.as_dict() for t in turns],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    turns, loads = asyncio.run(run(args.turns))
    report = summarize(turns, loads)
    v2v = report["voice_to_voice_ms"]
    print("load: " + ", ".join(f"{k} {v:.2f} s" for k, v in loads.items()))
    print(f"voice-to-voice over {len(turns)} turns: {json.dumps(v2v)}")
    for label, value in report["stages_p50"].items():  # type: ignore[union-attr]
        print(f"  {label:<36} p50 {value['p50_ms']:7.0f} ms")
    for t in turns:
        print("  " + t.summary())
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
