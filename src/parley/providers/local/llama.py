"""A local LLM with llama.cpp (llama-cpp-python), by default SmolLM2-135M-Instruct.

Generation runs in the model process (model_host/) and streams tokens back as they are made.
Closing the stream cancels the request there: the model's thread checks a stop flag between
tokens, so the model is free for the next session within a token. llama.cpp reuses the
key/value cache for the longest prefix a prompt shares with the previous one; every session
starts with the same system prompt, which is evaluated once at load (and again when a
restarted model process loads it), so a turn only pays for the new messages.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

from parley.providers.base import LLM
from parley.providers.context import ProviderContext
from parley.providers.local import assets
from parley.providers.local.config import LlamaSettings
from parley.providers.local.model_host.client import ModelHost
from parley.providers.local.model_host.remote import RemoteModel, shared_host
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
        host: ModelHost | None = None,
    ) -> None:
        options = {
            "model_path": str(model_path),
            "threads": threads,
            "context_tokens": context_tokens,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "system_prompt": system_prompt,
        }
        self._model = RemoteModel(host or shared_host(), "llama", options)

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        return self._generate(list(messages))

    async def _generate(self, messages: list[ChatMessage]) -> AsyncGenerator[str, None]:
        request = {"messages": [{"role": m.role, "content": m.content} for m in messages]}
        tokens = self._model.stream(request)
        try:
            async for item, _ in tokens:
                yield str(item["token"])
        finally:
            await tokens.aclose()  # cancels the request: the model stops at its next token

    def close(self) -> None:
        self._model.close()


def create(config: LlamaSettings, context: ProviderContext) -> LlamaLLM:
    return LlamaLLM(
        config.model_path or assets.smollm2_gguf(),
        threads=config.threads,
        context_tokens=config.context_tokens,
        max_tokens=config.max_tokens,
        temperature=config.temperature,
        system_prompt=context.instructions,
    )
