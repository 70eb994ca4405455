"""Piper's memory comes back after a long sentence (issue 17, item 3: the embedded soak).

With onnxruntime's CPU memory arena (its default), the model process kept the peak of the
longest sentence it had ever spoken: 173 MB after loading, 319 MB after a 40-word sentence,
416 MB after a 60-word one, and trimming the heap gave none of it back. Without the arena
the same sentences leave it at 155 MB once trimmed. Measured in a process of its own, so
nothing else in the test run moves its memory.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from parley import heap

SCRIPT = """
import json, threading
from parley.heap import resident_bytes, trim
from parley.providers.local.assets import joe_voice
from parley.providers.local.model_host.engines import PiperEngine

model, config = joe_voice()
engine = PiperEngine({"model_path": str(model), "config_path": str(config), "threads": 2})

def say(words):
    for _ in engine.run({"text": " ".join(["word"] * words) + "."}, b"", threading.Event()):
        pass

say(5)
trim()
before = resident_bytes()
say(60)
say(5)
trim()
print(json.dumps({"before": before, "after": resident_bytes()}))
"""

MB = 1024 * 1024


@pytest.mark.skipif(not heap.available(), reason="needs glibc's malloc_trim")
def test_a_long_sentence_leaves_no_lasting_memory() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    grown = (figures["after"] - figures["before"]) / MB
    assert grown < 40, f"a 60-word sentence left {grown:.0f} MB behind"
