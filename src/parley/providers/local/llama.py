"""A local LLM with llama.cpp (llama-cpp-python), by default SmolLM2-135M-Instruct.

Generation runs on the model's own thread and streams tokens back to the event loop. Closing
the stream sets a stop flag the thread checks between tokens, so the model is free for the
next session within a token. llama.cpp reuses the key/value cache for the longest prefix a
prompt shares with the previous one; every session starts with the same system prompt, which
is evaluated once at load, so it stays cached and a turn only pays for the new messages.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from parley.providers.base import LLM, ProviderError
from parley.providers.context import ProviderContext
from parley.providers.local import assets
from parley.providers.local.config import LlamaSettings
from parley.providers.local.worker import ModelWorker
from parley.types import ChatMessage


class LlamaLLM(LLM):
    name = "llama"

    def __init__(
        self,
        model_path: Path,
        *,
        threads: int = 2,
        context_tokens: int = 2048,
        max_tokens: int = 120,
        temperature: float = 0.6,
        system_prompt: str | None = None,
    ) -> None:
        from llama_cpp import Llama

        self._llama = Llama(
            model_path=str(model_path),
            n_ctx=context_tokens,
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=512,
            verbose=False,
        )
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._worker = ModelWorker("llm")
        if system_prompt:  # put the shared prefix in the cache before the first call
            warm = [ChatMessage("system", system_prompt), ChatMessage("user", "Hi")]
            self._complete(warm, threading.Event(), lambda _: None, max_tokens=1)

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        return self._generate(list(messages))

    async def _generate(self, messages: list[ChatMessage]) -> AsyncGenerator[str, None]:
        loop = asyncio.get_running_loop()
        tokens: asyncio.Queue[str | None] = asyncio.Queue()
        stop = threading.Event()

        def deliver(token: str | None) -> None:
            if not stop.is_set():
                loop.call_soon_threadsafe(tokens.put_nowait, token)

        job = self._worker.submit(self._complete, messages, stop, deliver, self._max_tokens)
        job.add_done_callback(lambda _: deliver(None))
        try:
            while (token := await tokens.get()) is not None:
                yield token
            _raise_failure(job)
        finally:
            stop.set()  # the thread stops at its next token and frees the model

    def _complete(
        self,
        messages: list[ChatMessage],
        stop: threading.Event,
        deliver: Any,
        max_tokens: int,
    ) -> None:
        if stop.is_set():  # cancelled while queued for the model: skip the prefill
            return
        chunks = self._llama.create_chat_completion(
            messages=[{"role": m.role, "content": m.content} for m in messages],  # type: ignore[misc]
            stream=True,
            max_tokens=max_tokens,
            temperature=self._temperature,
        )
        for chunk in chunks:
            if stop.is_set():
                break
            content = chunk["choices"][0]["delta"].get("content")  # type: ignore[index, union-attr]
            if content:
                deliver(content)


def _raise_failure(job: Future[None]) -> None:
    if job.done() and not job.cancelled() and (error := job.exception()) is not None:
        raise ProviderError(f"llama.cpp failed: {type(error).__name__}: {error}") from error


def create(config: LlamaSettings, context: ProviderContext) -> LlamaLLM:
    return LlamaLLM(
        config.model_path or assets.smollm2_gguf(),
        threads=config.threads,
        context_tokens=config.context_tokens,
        max_tokens=config.max_tokens,
        temperature=config.temperature,
        system_prompt=context.instructions,
    )
