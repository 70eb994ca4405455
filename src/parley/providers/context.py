"""What a provider factory may need beyond its own settings section.

A factory gets its section (`WhisperSettings`, `OpenAIChatSettings`, ...) and this: the few
values owned elsewhere in the root Settings that building a provider needs. Keeping it a
small frozen record means no provider module reads (or imports) the root Settings.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProviderContext:
    # The session's system prompt: llama evaluates it once at load, so every session's
    # prompt starts with a cached prefix.
    instructions: str
