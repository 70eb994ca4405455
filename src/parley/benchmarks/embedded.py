"""parley with its embedded models over Twilio: voice-to-voice across a conversation.

The caller asks questions in Piper's voice (synthesized here, before the call, like the test
clips: 8 kHz with 200 ms of silence before and 300 ms after), waits for each answer to end,
and asks the next. The server runs its defaults (Silero, Whisper, llama.cpp, Piper) with a
short-answer prompt and a cap on reply length, so twenty turns take a few minutes.
Voice-to-voice is measured at the caller; the server's per-turn records give the stages.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable

import numpy as np

from parley.audio.frames import AudioFrame
from parley.audio.resample import resample
from parley.benchmarks.caller import BenchCaller
from parley.benchmarks.events import read_events
from parley.benchmarks.plan import Setup
from parley.benchmarks.process import free_port, running
from parley.benchmarks.results import Distribution, Embedded
from parley.benchmarks.scenarios import closed_event, place
from parley.benchmarks.spec import ServerSpec
from parley.providers import registry
from parley.settings import Settings
from parley.testing.twilio_caller.fake_caller import (
    CallerStep,
    HangUp,
    Pause,
    Speak,
    WaitFor,
    agent_finished,
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
INSTRUCTIONS = (
    "You are a helpful voice assistant on a phone call. Your words are spoken aloud: answer "
    "in one short sentence, with no lists, markdown or symbols."
)
MAX_TOKENS = 24  # one short sentence; keeps twenty turns to about three minutes
STAGES = (  # (label, from, to): seconds on the server's clock, relative to the end of speech
    ("end of speech to endpoint", "speech_ended", "endpoint_decided"),
    ("endpoint to final transcript", "endpoint_decided", "stt_final"),
    ("final transcript to LLM start", "stt_final", "committed"),
    ("LLM first token", "committed", "llm_first_token"),
    ("TTS first audio after first token", "llm_first_token", "tts_first_audio"),
    ("first frame out after TTS audio", "tts_first_audio", "first_audio_out"),
)
PHONE_RATE = 8000
CLOSE_WITHIN = 15.0  # seconds to wait, after hanging up, for the server's `call_closed`


async def speech_clips(texts: list[str]) -> list[AudioFrame]:
    """The questions in Piper's voice, as a phone would carry them."""
    tts = await asyncio.to_thread(registry.create, "tts", "piper", Settings())
    clips = []
    for text in texts:
        pcm = b"".join([chunk.audio.pcm async for chunk in tts.synthesize(text)])
        audio = resample(AudioFrame(pcm, tts.sample_rate), PHONE_RATE)
        before, after = np.zeros(PHONE_RATE // 5, "<i2"), np.zeros(PHONE_RATE * 3 // 10, "<i2")
        samples = np.concatenate([before, audio.as_array(), after])
        clips.append(AudioFrame(samples.tobytes(), PHONE_RATE))
    return clips


async def embedded(setup: Setup, progress: Callable[[str], None]) -> Embedded:
    turns = setup.plan.embedded_turns
    texts = [QUESTIONS[i % len(QUESTIONS)] for i in range(turns)]
    clips = await speech_clips(texts[: len(QUESTIONS)])
    script: list[CallerStep] = [Pause(0.5)]
    for turn in range(turns):
        script += [
            Speak(clips[turn % len(clips)], f"turn {turn}"),
            WaitFor(agent_finished(0.6), limit=40, what="the answer"),
        ]
    script.append(HangUp())
    spec = ServerSpec(
        framework="parley",
        port=free_port(),
        events=setup.workdir / "parley-embedded.events.jsonl",
        providers="embedded",
        policy=setup.policy,
        instructions=INSTRUCTIONS,
        llama_max_tokens=MAX_TOKENS,
    )
    progress(f"embedded: loading the models, then {turns} turns")
    async with running(spec, setup.workdir, "parley-embedded") as server:
        caller = BenchCaller(server.media_url, script)
        error = await place(caller, 60 + 45 * turns)
        # The session writes its turns' records before the call is reported closed.
        closed = await closed_event(server, caller, CLOSE_WITHIN)
        events = read_events(spec.events)
    if closed is None:
        error = error or "the server reported no closed call: the last turns may be missing"
    records = [e["timings"] for e in events if e["event"] == "turn"]
    stages: dict[str, float] = {}
    for label, start, end in STAGES:
        values = [r[end] - r[start] for r in records if r[start] is not None and r[end] is not None]
        if values:
            stages[label] = 1000 * statistics.median(values)
    settings = spec.parley_settings()
    v2v = [caller.voice_to_voice(u) for u in caller.log.utterances]
    models = {
        "vad": settings.vad,
        "stt": f"{settings.stt} {settings.whisper.model}",
        "llm": f"{settings.llm} (replies up to {MAX_TOKENS} tokens)",
        "tts": settings.tts,
    }
    return Embedded(
        turns=turns,
        voice_to_voice=Distribution.of_seconds(v2v),
        per_turn_ms=[None if v is None else 1000 * v for v in v2v],
        stages_p50_ms=stages,
        models=models,
        error=error,
    )
