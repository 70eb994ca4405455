"""The `[tools]` settings section: what the agent may call, and how calls run (docs/tools.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from parley.session.tools.builtin import end_call_tool, transfer_call_tool
from parley.session.tools.model import Tool, ToolBox
from parley.session.tools.python import load_function, python_tool
from parley.session.tools.webhook import webhook_tool

NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"  # what OpenAI accepts as a function name


class PythonToolSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    function: str = Field(description='"package.module:function", importable by the server.')
    name: str | None = Field(None, pattern=NAME_PATTERN, description="Default: its name.")
    description: str | None = Field(None, description="Default: its docstring's first part.")
    timeout_s: float | None = Field(None, gt=0, le=300)


class WebhookToolSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    description: str
    url: str = Field(pattern=r"^https?://", description="POSTed the call as JSON.")
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="The arguments as a JSON schema (an object).",
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Sent with each call (an Authorization, say)."
    )
    timeout_s: float | None = Field(None, gt=0, le=300)


class ToolSettings(BaseModel):
    """Functions the agent may call (docs/tools.md). None are offered unless declared."""

    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(
        5.0, gt=0, le=300, description="A call that takes longer is an error the model reads."
    )
    filler: str = Field("One moment.", description="Said while a slow tool runs.")
    filler_after_ms: int | None = Field(
        1000, ge=0, description="Say the filler when a tool runs longer than this; None: never."
    )
    max_rounds: int = Field(
        3, ge=1, le=10, description="Rounds of calls per answer before the model must speak."
    )
    end_call: bool = Field(False, description="Offer `end_call`: the agent may hang up.")
    transfer_targets: dict[str, str] = Field(
        default_factory=dict,
        description="Offer `transfer_call` (Twilio calls) to these: a name the model picks "
        'from -> a phone number in E.164 ("+14155550100") or a SIP address ("sip:...").',
    )
    python: list[PythonToolSettings] = Field(default_factory=list)
    webhooks: list[WebhookToolSettings] = Field(default_factory=list)

    def toolbox(self) -> ToolBox:
        """The declared tools, loaded (ValueError if a function cannot be imported)."""
        tools: list[Tool] = []
        for declared in self.python:
            function = load_function(declared.function)
            tools.append(python_tool(function, name=declared.name,
                                     description=declared.description,
                                     timeout_s=declared.timeout_s))  # fmt: skip
        for hook in self.webhooks:
            tools.append(webhook_tool(hook.name, hook.description, hook.url, hook.parameters,
                                      headers=hook.headers, timeout_s=hook.timeout_s,
                                      default_timeout_s=self.timeout_s))  # fmt: skip
        if self.end_call:
            tools.append(end_call_tool())
        if self.transfer_targets:
            tools.append(transfer_call_tool(self.transfer_targets))
        return ToolBox.of(
            tools,
            timeout_s=self.timeout_s,
            filler=self.filler,
            filler_after_s=None if self.filler_after_ms is None else self.filler_after_ms / 1000,
            max_rounds=self.max_rounds,
        )
