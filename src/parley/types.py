"""Small value types shared by the conversation, the providers and the transports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call, as the model sees it: a name, what it is for, and
    its arguments as a JSON schema (an object)."""

    name: str
    description: str
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}, hash=False
    )


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens one LLM request read and wrote, as the provider counted them."""

    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model asks for a function to run: its call id, the name, and the arguments as
    the JSON text the model wrote (not yet parsed: it may be malformed)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of the chat history.

    `interrupted` marks an assistant message that was cut to what the person actually heard
    (invariant 4); adapters may tell the model so, to stop it repeating itself. An assistant
    message with `tool_calls` asks for functions to run; a `tool` message answers the call
    `tool_call_id` with `content` (docs/tools.md).
    """

    role: Role
    content: str
    interrupted: bool = False
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str = ""

    @property
    def is_tool_exchange(self) -> bool:
        """A function call or its result, rather than words said."""
        return self.role == "tool" or bool(self.tool_calls)


def spoken_only(messages: Iterable[ChatMessage]) -> list[ChatMessage]:
    """The history without function calls and their results, for a model that knows no
    tools: what was said is all it can read."""
    return [m for m in messages if not m.is_tool_exchange]


@dataclass(frozen=True, slots=True)
class TimedWord:
    """A word of agent speech and where it sits in the audio, in seconds.

    Times are relative to the start of the audio they were reported with: a TTS chunk reports
    them relative to itself; the responder rebases them onto the whole response.
    """

    text: str
    start: float
    end: float

    def shifted(self, offset: float) -> TimedWord:
        return TimedWord(self.text, self.start + offset, self.end + offset)
