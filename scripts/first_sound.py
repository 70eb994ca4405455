"""Where the time from the LLM's first token to the first TTS audio goes, with the embedded
models (SmolLM2 through llama.cpp and Piper, both in the model process).

    PYTHONPATH=src python scripts/first_sound.py [--rounds 2] [--max-tokens 24]
        [--only before|short|after ...] [--verbose]

For each question it runs what the responder runs: the LLM stream, the splitter, a Piper
stream fed segment by segment. It records, from the first token: when the splitter released
the first segment (the LLM's time to a boundary), when Piper's first audio came back (Piper's
time for that segment while the LLM goes on generating), and when the LLM finished. Then it
synthesizes the same first segment again with nothing else running: the difference is what
sharing two cores with the LLM costs. Three ways, taking turns question by question so load on
the machine hits them alike: `before` (the splitter before the short first segment, and no
priority), `short` (the short first segment alone), `after` (it and the model process's
priority for Piper's first segment over the LLM's tokens).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from math import inf

from parley.benchmarks.embedded import INSTRUCTIONS, QUESTIONS
from parley.providers.local import assets
from parley.providers.local.llama import LlamaLLM
from parley.providers.local.piper import PiperTTS
from parley.session.splitter import SentenceSplitter
from parley.types import ChatMessage

KINDS = {
    "before": "4 words and a comma or a sentence, no priority",
    "short": "the short first segment, no priority",
    "after": "the short first segment, Piper's first segment before LLM tokens",
}


@dataclass
class Run:
    splitter: str
    question: str
    first_segment: str = ""
    to_cut: float = 0.0  # first token -> first segment released
    piper_busy: float = 0.0  # first segment released -> first audio (LLM still running)
    to_audio: float = 0.0  # first token -> first audio
    llm_total: float = 0.0  # first token -> last token
    piper_alone: float = 0.0  # the same segment, nothing else running


def make_splitter(kind: str, clock: Callable[[], float]) -> SentenceSplitter:
    if kind == "before":  # as before the change: 4 words and a comma, or a whole sentence
        return SentenceSplitter(first_clause_min_words=4, first_max_words=None, first_wait=inf)
    return SentenceSplitter(clock=clock)


def prioritized(tts: PiperTTS, kind: str) -> None:
    """The `after` way asks the model process to pause the LLM during the first segment; the others
    synthesize it as any other segment (as before the change)."""
    if kind == "after":
        tts.__dict__.pop("synthesize_first", None)
    else:
        tts.synthesize_first = tts.synthesize  # type: ignore[method-assign]


async def one(llm: LlamaLLM, tts: PiperTTS, question: str, kind: str) -> Run:
    run = Run(kind, question)
    loop = asyncio.get_running_loop()
    splitter = make_splitter(kind, loop.time)
    prioritized(tts, kind)
    stream = tts.stream()
    first_audio: asyncio.Future[float] = loop.create_future()

    async def play() -> None:
        async for chunk in stream:
            if chunk.audio.samples and not first_audio.done():
                first_audio.set_result(time.perf_counter())

    player = asyncio.create_task(play())
    messages = [ChatMessage("system", INSTRUCTIONS), ChatMessage("user", question)]
    first = cut = None
    async for delta in llm.stream(messages):
        now = time.perf_counter()
        first = first or now
        for segment in splitter.push(delta):
            if cut is None:
                cut, run.first_segment = now, segment
            stream.push_text(segment)
    assert first is not None
    run.llm_total = time.perf_counter() - first
    for segment in splitter.flush():
        if cut is None:
            cut, run.first_segment = time.perf_counter(), segment
        stream.push_text(segment)
    stream.end_input()
    audio_at = await first_audio
    await player
    assert cut is not None
    run.to_cut, run.piper_busy, run.to_audio = cut - first, audio_at - cut, audio_at - first
    await asyncio.sleep(0.3)  # let the spinning threads settle
    started = time.perf_counter()
    async for _ in tts.synthesize(run.first_segment):
        run.piper_alone = time.perf_counter() - started
        break
    return run


def ms(values: list[float]) -> str:
    v = sorted(1000 * x for x in values)
    p95 = v[min(len(v) - 1, round(0.95 * (len(v) - 1)))]
    return f"p50 {statistics.median(v):4.0f}  p95 {p95:4.0f}  max {v[-1]:4.0f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--only", choices=KINDS, action="append", help="default: all three")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    voice, config = assets.joe_voice()
    llm = LlamaLLM(assets.smollm2_gguf(), max_tokens=args.max_tokens, system_prompt=INSTRUCTIONS)
    tts = PiperTTS(voice, config)
    kinds = args.only or list(KINDS)
    runs: list[Run] = []
    for round_ in range(args.rounds):
        for i, question in enumerate(QUESTIONS):
            shift = (i + round_) % len(kinds)  # each goes first in turn
            order = kinds[shift:] + kinds[:shift]
            for kind in order:
                run = await one(llm, tts, question, kind)
                runs.append(run)
                if args.verbose:
                    print(
                        f"{kind:6} cut {1000 * run.to_cut:4.0f} piper {1000 * run.piper_busy:4.0f}"
                        f" (alone {1000 * run.piper_alone:4.0f}) audio {1000 * run.to_audio:4.0f}"
                        f" llm {1000 * run.llm_total:4.0f}  {run.first_segment!r}",
                        flush=True,
                    )
    for kind in kinds:
        mine = [r for r in runs if r.splitter == kind]
        words = [len(r.first_segment.split()) for r in mine]
        print(f"\n{kind}: {KINDS[kind]}, {len(mine)} replies of up to {args.max_tokens} tokens")
        print(f"  first token -> first segment released  {ms([r.to_cut for r in mine])}")
        print(f"  segment -> Piper first audio (LLM on)  {ms([r.piper_busy for r in mine])}")
        print(f"  same segment, Piper alone              {ms([r.piper_alone for r in mine])}")
        print(f"  first token -> first audio             {ms([r.to_audio for r in mine])}")
        print(f"  first token -> last token              {ms([r.llm_total for r in mine])}")
        print(f"  first segment words: median {statistics.median(words)}, max {max(words)}")
    llm.close()
    tts.close()


if __name__ == "__main__":
    asyncio.run(main())
