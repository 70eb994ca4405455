"""Tools that are HTTP endpoints: the call's arguments go out as JSON, the JSON reply back.

POST {url} with `{"tool": name, "call_id": id, "arguments": {...}}`; a 2xx reply's body (JSON
or text) is the result the model reads; any other status, a connection failure or the
timeout is an error result. Headers (a bearer token, say) are secrets: never logged.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from parley.session.tools.model import Tool, ToolContext, ToolError
from parley.types import ToolSpec

MAX_REPLY_BYTES = 65_536  # a longer reply is cut: the model reads it as the result


def webhook_tool(
    name: str,
    description: str,
    url: str,
    parameters: dict[str, Any],
    *,
    headers: dict[str, SecretStr] | None = None,
    timeout_s: float | None = None,
    default_timeout_s: float = 5.0,
) -> Tool:
    timeout = timeout_s or default_timeout_s
    secret_headers = dict(headers or {})

    async def handler(arguments: dict[str, Any], context: ToolContext) -> Any:
        body = {"tool": name, "call_id": context.call_id, "arguments": arguments}
        sent = {key: value.get_secret_value() for key, value in secret_headers.items()}
        try:
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                reply = await client.post(url, json=body, headers=sent)
        except httpx.TimeoutException:
            raise ToolError(f"the webhook did not answer within {timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise ToolError(f"the webhook could not be reached ({type(exc).__name__})") from None
        text = reply.content[:MAX_REPLY_BYTES].decode("utf-8", "replace")
        if not reply.is_success:
            raise ToolError(f"the webhook answered HTTP {reply.status_code}: {text[:200]}")
        return text

    return Tool(ToolSpec(name, description, parameters), handler, timeout_s)
