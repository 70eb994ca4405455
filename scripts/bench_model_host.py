"""What the model process costs: first LLM token and first TTS audio in-process vs through
the child, the bare channel round trip, restart time after a SIGSEGV, and memory.

    PYTHONPATH=src python scripts/bench_model_host.py [--runs 50] [--restarts 3]

In-process runs the same engines on a worker thread of this process and hands results to
the event loop with call_soon_threadsafe, as the providers did before the model process.
The two ways alternate run by run, so load on the machine hits both alike. Every request
is drained to its end, so no run waits for the tail of the one before.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable

from parley.providers import registry
from parley.providers.local import assets
from parley.providers.local.llama import LlamaLLM
from parley.providers.local.model_host.engines import Engine, Item, LlamaEngine, PiperEngine
from parley.providers.local.model_host.remote import RemoteModel, shared_host
from parley.providers.local.model_host.scripted import ScriptedEngine
from parley.providers.local.piper import PiperTTS
from parley.providers.local.worker import ModelWorker
from parley.session.config import DEFAULT_INSTRUCTIONS
from parley.settings import Settings
from parley.types import ChatMessage

QUESTION = [ChatMessage("system", DEFAULT_INSTRUCTIONS), ChatMessage("user", "Say hello.")]
SENTENCE = "The weather in Paris is mild today."
LLM_OPTIONS = {"model_path": str(assets.smollm2_gguf()), "max_tokens": 8,
               "system_prompt": DEFAULT_INSTRUCTIONS}  # fmt: skip
Runs = dict[str, list[float]]


def tts_options() -> dict[str, object]:
    model, config = assets.joe_voice()
    return {"model_path": str(model), "config_path": str(config)}


async def in_process(worker: ModelWorker, engine: Engine, request: dict[str, object]) -> float:
    """Seconds to the first item of an engine on a worker thread of this process."""
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[Item | None] = asyncio.Queue()

    def work() -> None:
        for item in engine.run(request, b"", threading.Event()):
            loop.call_soon_threadsafe(items.put_nowait, item)
        loop.call_soon_threadsafe(items.put_nowait, None)

    started = time.perf_counter()
    worker.submit(work)
    await items.get()
    first = time.perf_counter() - started
    while await items.get() is not None:
        pass
    return first


async def remote(stream: Callable[[], AsyncIterator[object]]) -> float:
    """Seconds to the first item through the model process."""
    started = time.perf_counter()
    items = stream()
    await anext(items)
    first = time.perf_counter() - started
    async for _ in items:
        pass
    return first


def summary(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms"


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def latency(runs: int, llm: LlamaLLM, tts: PiperTTS, child_first: bool) -> None:
    llm_engine, tts_engine = LlamaEngine(LLM_OPTIONS), PiperEngine(tts_options())
    bare_engine, bare = ScriptedEngine({}), RemoteModel(shared_host(), "scripted", {})
    workers = [ModelWorker(name) for name in ("llm", "tts", "bare")]
    request: dict[str, object] = {
        "messages": [{"role": m.role, "content": m.content} for m in QUESTION]
    }
    times: Runs = {}
    for _ in range(runs):
        pairs = (
            (("bare in", in_process(workers[2], bare_engine, {"count": 1})),
             ("bare child", remote(lambda: bare.stream({"count": 1})))),
            (("llm in", in_process(workers[0], llm_engine, request)),
             ("llm child", remote(lambda: llm.stream(QUESTION)))),
            (("tts in", in_process(workers[1], tts_engine, {"text": SENTENCE})),
             ("tts child", remote(lambda: tts.synthesize(SENTENCE)))),
        )  # fmt: skip
        for pair in pairs:  # which goes first matters: Piper's threads spin after a run
            for name, measure in reversed(pair) if child_first else pair:
                times.setdefault(name, []).append(await measure)
    for name, values in times.items():
        print(f"{name:11} first item  {summary(values)}")
    for kind in ("bare", "llm", "tts"):
        paired = zip(times[f"{kind} child"], times[f"{kind} in"], strict=True)
        print(f"{kind:4} added by the channel (paired)  {summary([c - i for c, i in paired])}")
    bare.close()


async def restart_time(llm: LlamaLLM, times: int) -> None:
    host = shared_host()
    seconds = []
    for _ in range(times):
        pid = host.status().pid
        assert pid is not None
        started = time.perf_counter()
        os.kill(pid, signal.SIGSEGV)
        while True:
            try:
                await remote(lambda: llm.stream(QUESTION))
                break
            except Exception:
                await asyncio.sleep(0.01)  # the call in flight failed: the next one waits
        seconds.append(time.perf_counter() - started)
        await asyncio.sleep(1.0)
    shown = ", ".join(f"{s:.2f}" for s in seconds)
    print(f"kill -SEGV to the next answer's first token: {shown} s "
          f"({host.status().restarts} restarts)")  # fmt: skip


async def bare_channel(runs: int) -> None:
    """The channel alone: a one-token request to a model-free engine, many times."""
    engine, model, worker = (
        ScriptedEngine({}),
        RemoteModel(shared_host(), "scripted", {}),
        ModelWorker("bare"),
    )
    inside, through = [], []
    for _ in range(runs):
        inside.append(await in_process(worker, engine, {"count": 1}))
        through.append(await remote(lambda: model.stream({"count": 1})))
    print(f"bare in-process  {summary(inside)}")
    print(f"bare child       {summary(through)}")
    print(f"bare added (paired)  {summary([c - i for c, i in zip(through, inside, strict=True)])}")
    model.close()


def in_process_rss() -> None:
    """The old way, for comparison: the three models loaded in this process."""
    before = rss_mb()
    from parley.providers.local.model_host.engines import WhisperEngine

    engines = [WhisperEngine({"model_dir": str(assets.whisper_tiny_en())}),
               LlamaEngine(LLM_OPTIONS), PiperEngine(tts_options())]  # fmt: skip
    print(f"in-process (before the model process): {rss_mb():.0f} MB with the three models "
          f"({before:.0f} MB before loading), {len(engines)} engines")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--in-process-rss", action="store_true")
    parser.add_argument("--child-first", action="store_true", help="the child's run first")
    parser.add_argument("--bare-only", type=int, default=0, help="only the channel, N runs")
    args = parser.parse_args()
    if args.in_process_rss:
        in_process_rss()
        return
    if args.bare_only:
        asyncio.run(bare_channel(args.bare_only))
        return
    if args.restarts:
        subprocess.run([sys.executable, __file__, "--in-process-rss"], check=True)
    settings = Settings.model_validate({})
    before = rss_mb()
    stt = registry.create("stt", "whisper", settings)
    llm = LlamaLLM(assets.smollm2_gguf(), max_tokens=8, system_prompt=DEFAULT_INSTRUCTIONS)
    tts = registry.create("tts", "piper", settings)
    assert isinstance(tts, PiperTTS)
    pid = shared_host().status().pid
    print(f"with the model process: session process {rss_mb():.0f} MB ({before:.0f} MB "
          f"before loading), model process {rss_mb(pid or 0):.0f} MB")  # fmt: skip
    if args.restarts:
        asyncio.run(restart_time(llm, args.restarts))
    asyncio.run(latency(args.runs, llm, tts, args.child_first))
    stt.close()
    llm.close()
    tts.close()


if __name__ == "__main__":
    main()
