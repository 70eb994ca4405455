"""The built-in tools: ending the call, and handing it to a person.

Both act once the response that called them has played out: the model is told what will
happen and says its last words, then the call ends (over its transport: Twilio by REST, the
browser with `session_ended`, a Realtime client with a close) or is transferred. If the
person interrupts those last words, the action is called off: they had more to say.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from parley.session.tools.model import Tool, ToolContext, ToolError
from parley.types import ToolSpec

_TARGET = re.compile(r"\+[1-9][0-9]{6,14}|sips?:[^\s<>&\"']{3,200}")


def end_call_tool() -> Tool:
    spec = ToolSpec(
        "end_call",
        "End the call. Use it when the conversation is over (the person said goodbye or "
        "asked to hang up); then say a short goodbye: the call ends once it has been heard.",
        {"type": "object", "properties": {
            "reason": {"type": "string", "description": "Why the call ends, for the log."}}},
    )  # fmt: skip

    async def handler(arguments: dict[str, Any], context: ToolContext) -> str:
        reason = str(arguments.get("reason") or "the agent ended the call")[:200]
        context.end_call(reason)
        return "The call will end after your next words. Say a short goodbye."

    return Tool(spec, handler)


def transfer_call_tool(targets: Mapping[str, str]) -> Tool:
    """`transfer_call` to one of `targets` (name -> E.164 number or SIP address): the model
    picks a name, never a number, so no caller can talk the agent into dialing elsewhere."""
    for name, target in targets.items():
        if not _TARGET.fullmatch(target):
            raise ValueError(f"transfer target {name!r}: {target!r} is not +E.164 or sip:")
    names = sorted(targets)
    spec = ToolSpec(
        "transfer_call",
        "Transfer the call to a person. Tell the person you are transferring them; the "
        "transfer happens once your words have been heard.",
        {"type": "object", "properties": {"to": {"type": "string", "enum": names,
          "description": "Who to transfer to."}}, "required": ["to"]},
    )  # fmt: skip

    async def handler(arguments: dict[str, Any], context: ToolContext) -> str:
        name = arguments.get("to")
        if not isinstance(name, str) or name not in targets:
            raise ToolError(f"'to' must be one of: {', '.join(names)}")
        context.transfer_call(targets[name])
        return f"The call will be transferred to {name} after your next words. Tell them."

    return Tool(spec, handler)
