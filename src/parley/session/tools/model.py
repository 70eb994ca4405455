"""What a tool is: the spec the model sees, and the handler that runs it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from parley.types import ToolSpec


class ToolError(Exception):
    """A tool refused its arguments or failed in a way worth telling the model about."""


@dataclass(frozen=True, slots=True)
class ToolContext:
    """What a tool's handler may ask of the call it runs in. Both actions wait for the
    response that asked for them to finish playing, so the agent's last words are heard."""

    response_id: str
    call_id: str
    end_call: Callable[[str], None]  # hang up after this response (the reason)
    transfer_call: Callable[[str], None]  # hand the call to a number or SIP address after it


ToolHandler = Callable[[dict[str, Any], ToolContext], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call. `handler` gets the parsed JSON arguments (an object)
    and the call's context; what it returns is sent back to the model (text as it is,
    anything else as JSON). `timeout_s` None takes the [tools] default."""

    spec: ToolSpec
    handler: ToolHandler
    timeout_s: float | None = None

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class ToolBox:
    """The tools a session offers, and how they run (from the [tools] section)."""

    tools: Mapping[str, Tool] = field(default_factory=dict)
    timeout_s: float = 5.0
    filler: str = "One moment."
    filler_after_s: float | None = 1.0  # None: never say a filler
    max_rounds: int = 3

    @classmethod
    def of(cls, tools: Sequence[Tool], **options: Any) -> ToolBox:
        names = [t.name for t in tools]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"tools declared twice: {', '.join(duplicates)}")
        return cls({t.name: t for t in tools}, **options)

    @property
    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(t.spec for t in self.tools.values())

    def __bool__(self) -> bool:
        return bool(self.tools)
