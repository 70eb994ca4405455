"""The [tools] section: Python functions by "module:function", webhooks over real HTTP, the
built-ins; and how each turns into what the model sees."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request

from parley.session.tools import ToolContext, ToolError
from parley.settings import load_settings
from tests.serving import serving

CONTEXT = ToolContext("resp_1", "call_1", lambda reason: None, lambda target: None)


def lookup_order(order_id: int, include_items: bool = False) -> dict[str, Any]:
    """Find an order by its number.

    Longer notes the model does not need."""
    return {"order_id": order_id, "status": "shipped", "items": 2 if include_items else None}


def test_python_tools_and_built_ins_from_a_settings_file(tmp_path: Path) -> None:
    file = tmp_path / "parley.toml"
    file.write_text(
        """
        [tools]
        timeout_s = 2.5
        filler = "Just a second."
        filler_after_ms = 600
        end_call = true
        transfer_targets = { sales = "+14155550100", support = "sip:help@example.com" }

        [[tools.python]]
        function = "tests.unit.test_tool_settings:lookup_order"
        timeout_s = 1.0
        """
    )
    box = load_settings(file).tools.toolbox()
    assert list(box.tools) == ["lookup_order", "end_call", "transfer_call"]
    assert (box.timeout_s, box.filler, box.filler_after_s) == (2.5, "Just a second.", 0.6)
    order = box.tools["lookup_order"]
    assert order.timeout_s == 1.0
    assert order.spec.description == "Find an order by its number."
    assert order.spec.parameters == {
        "type": "object", "additionalProperties": False, "required": ["order_id"],
        "properties": {"order_id": {"type": "integer"},
                       "include_items": {"type": "boolean", "default": False}}}  # fmt: skip
    transfer = box.tools["transfer_call"].spec.parameters
    assert transfer["properties"]["to"]["enum"] == ["sales", "support"]


async def test_a_sync_function_runs_with_validated_arguments() -> None:
    from parley.session.tools.python import python_tool

    tool = python_tool(lookup_order)
    assert await tool.handler({"order_id": "42"}, CONTEXT) == {
        "order_id": 42, "status": "shipped", "items": None}  # fmt: skip
    with pytest.raises(ToolError, match="order_id: Input should be a valid integer"):
        await tool.handler({"order_id": "forty-two"}, CONTEXT)


def test_a_function_that_cannot_be_loaded_fails_the_settings_not_a_call() -> None:
    from parley.session.tools.settings import ToolSettings

    missing = ToolSettings.model_validate({"python": [{"function": "no_such_module:f"}]})
    with pytest.raises(ValueError, match="cannot import 'no_such_module'"):
        missing.toolbox()
    wrong = ToolSettings.model_validate({"python": [{"function": "json:no_such_function"}]})
    with pytest.raises(ValueError, match="json has no 'no_such_function'"):
        wrong.toolbox()
    with pytest.raises(ValueError, match=r"not \+E\.164 or sip:"):
        ToolSettings.model_validate({"transfer_targets": {"x": "<Hangup/>"}}).toolbox()
    order = "tests.unit.test_tool_settings:lookup_order"
    twice = {"python": [{"function": order}, {"function": order}]}
    with pytest.raises(ValueError, match="tools declared twice: lookup_order"):
        ToolSettings.model_validate(twice).toolbox()


def webhook_app(seen: list[tuple[dict[str, Any], str | None]]) -> FastAPI:
    app = FastAPI()

    @app.post("/orders")
    async def orders(request: Request) -> dict[str, Any]:
        body = await request.json()
        seen.append((body, request.headers.get("authorization")))
        return {"status": "shipped", "for": body["arguments"]["order_id"]}

    @app.post("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug in the webhook")

    @app.post("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(5)
        return {}

    return app


async def test_webhooks_post_the_call_as_json_and_read_the_reply() -> None:
    from parley.session.tools.settings import ToolSettings

    seen: list[tuple[dict[str, Any], str | None]] = []
    async with serving(webhook_app(seen)) as host:
        hooks = [
            {"name": "order_status", "description": "An order's status.",
             "url": f"http://{host}/orders", "headers": {"Authorization": "Bearer s3cret"},
             "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}}},
            {"name": "broken", "description": "Fails.", "url": f"http://{host}/broken"},
            {"name": "slow", "description": "Slow.", "url": f"http://{host}/slow",
             "timeout_s": 0.3},
        ]  # fmt: skip
        settings = ToolSettings.model_validate({"webhooks": hooks})
        assert "s3cret" not in repr(settings)
        box = settings.toolbox()
        reply = await box.tools["order_status"].handler({"order_id": "A7"}, CONTEXT)
        assert json.loads(reply) == {"status": "shipped", "for": "A7"}
        assert seen == [({"tool": "order_status", "call_id": "call_1",
                          "arguments": {"order_id": "A7"}}, "Bearer s3cret")]  # fmt: skip
        with pytest.raises(ToolError, match="HTTP 500"):
            await box.tools["broken"].handler({}, CONTEXT)
        with pytest.raises(ToolError, match=r"did not answer within 0\.3 s"):
            await box.tools["slow"].handler({}, CONTEXT)
    with pytest.raises(ToolError, match="could not be reached"):
        await box.tools["order_status"].handler({"order_id": "A7"}, CONTEXT)
