"""The models as the model process runs them: load once, then answer requests as a stream.

Each engine turns one request into items (a transcript; one item per LLM token; one PCM
chunk per sentence Piper speaks) and checks `stop` between them. Only the model process
imports these model libraries; the session process only sends them requests. The benchmark
(scripts/bench_model_host.py) also runs them in-process, to measure what the channel adds.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from parley.providers.local.model_host.wire import Header

Item = tuple[Header, bytes]

# Segments Whisper itself thinks hold no speech: its usual hallucinations on noise.
_NO_SPEECH_PROBABILITY = 0.6
_LOW_LOG_PROBABILITY = -1.0


class Engine(Protocol):
    kind: str  # "stt", "llm" or "tts": what the fault switch names
    info: Header  # told to the session process once loaded (Piper's sample rate)

    def run(self, request: Header, payload: bytes, stop: threading.Event) -> Iterator[Item]: ...


class WhisperEngine:
    """faster-whisper (CTranslate2, int8). Request: PCM16 at 16 kHz; one item, the text."""

    kind = "stt"

    def __init__(self, options: Header) -> None:
        from faster_whisper import WhisperModel

        logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # it logs every call
        self._language = str(options.get("language", "en"))
        self._beam_size = int(options.get("beam_size", 1))
        self._model = WhisperModel(
            str(options["model_dir"]),
            device="cpu",
            compute_type="int8",
            cpu_threads=int(options.get("threads", 2)),
            num_workers=1,
        )
        self.info: Header = {}
        self._transcribe(np.zeros(8000, dtype=np.float32))  # warm up: the first call is slow

    def run(self, request: Header, payload: bytes, stop: threading.Event) -> Iterator[Item]:
        samples = np.frombuffer(payload, dtype=np.int16).astype(np.float32) / 32768.0
        yield {"text": self._transcribe(samples)}, b""

    def _transcribe(self, samples: Any) -> str:
        segments, _ = self._model.transcribe(
            samples,
            language=self._language,
            beam_size=self._beam_size,
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        heard = [
            s.text.strip()
            for s in segments  # lazy: decoding happens while iterating
            if not (
                s.no_speech_prob > _NO_SPEECH_PROBABILITY and s.avg_logprob < _LOW_LOG_PROBABILITY
            )
        ]
        return " ".join(t for t in heard if t)


class LlamaEngine:
    """llama.cpp. Request: the chat messages; one item per token, stop checked between."""

    kind = "llm"

    def __init__(self, options: Header) -> None:
        from llama_cpp import Llama

        threads = int(options.get("threads", 2))
        self._llama = Llama(
            model_path=str(options["model_path"]),
            n_ctx=int(options.get("context_tokens", 2048)),
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=512,
            verbose=False,
        )
        self._max_tokens = int(options.get("max_tokens", 120))
        self._temperature = float(options.get("temperature", 0.6))
        self.info: Header = {}
        if system_prompt := options.get("system_prompt"):
            # Put the shared prefix in the key/value cache before the first call.
            warm = [{"role": "system", "content": system_prompt}, {"role": "user", "content": "Hi"}]
            for _ in self._tokens(warm, threading.Event(), max_tokens=1):
                pass

    def run(self, request: Header, payload: bytes, stop: threading.Event) -> Iterator[Item]:
        max_tokens = int(request.get("max_tokens", self._max_tokens))
        for token in self._tokens(request["messages"], stop, max_tokens):
            yield {"token": token}, b""

    def _tokens(
        self, messages: list[dict[str, str]], stop: threading.Event, max_tokens: int
    ) -> Iterator[str]:
        chunks = self._llama.create_chat_completion(
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            max_tokens=max_tokens,
            temperature=self._temperature,
        )
        for chunk in chunks:
            if stop.is_set():
                break
            content = chunk["choices"][0]["delta"].get("content")  # type: ignore[index, union-attr]
            if content:
                yield str(content)


class PiperEngine:
    """Piper on onnxruntime. Request: a text segment; one PCM16 item per sentence."""

    kind = "tts"

    def __init__(self, options: Header) -> None:
        import onnxruntime
        from piper import PiperVoice, SynthesisConfig
        from piper.config import PiperConfig

        session_options = onnxruntime.SessionOptions()
        session_options.intra_op_num_threads = int(options.get("threads", 2))
        session_options.inter_op_num_threads = 1
        # No onnxruntime CPU arena: it keeps the peak of the longest sentence ever spoken for
        # the process's life (416 MB after a 60-word one, from 173 MB), never given back.
        # Without it, freed buffers go back to malloc, which the model process trims
        # (child.py): 155 MB after the same sentences. CPU for a 20-word sentence, on a
        # loaded machine: 0.59-1.06 s with the arena, 0.69-0.93 s without.
        session_options.enable_cpu_mem_arena = False
        session = onnxruntime.InferenceSession(
            str(options["model_path"]),
            sess_options=session_options,
            providers=["CPUExecutionProvider"],
        )
        config_text = Path(options["config_path"]).read_text(encoding="utf-8")
        config = PiperConfig.from_dict(json.loads(config_text))
        self._voice = PiperVoice(config=config, session=session)
        self._synthesis = SynthesisConfig(length_scale=options.get("length_scale"))
        self.info: Header = {"sample_rate": config.sample_rate}
        for _ in self.run({"text": "Hello."}, b"", threading.Event()):  # warm up
            pass

    def run(self, request: Header, payload: bytes, stop: threading.Event) -> Iterator[Item]:
        for chunk in self._voice.synthesize(str(request["text"]), self._synthesis):
            if stop.is_set():
                break
            yield {}, chunk.audio_int16_bytes


# engine name -> "module:class"; imported only in the process that loads it.
ENGINES = {
    "whisper": "parley.providers.local.model_host.engines:WhisperEngine",
    "llama": "parley.providers.local.model_host.engines:LlamaEngine",
    "piper": "parley.providers.local.model_host.engines:PiperEngine",
    "scripted": "parley.providers.local.model_host.scripted:ScriptedEngine",
}


def load_engine(engine: str, options: Header) -> Engine:
    if engine not in ENGINES:
        raise ValueError(f"no model engine named {engine!r}")
    module, _, name = ENGINES[engine].partition(":")
    built: Engine = getattr(importlib.import_module(module), name)(options)
    return built
