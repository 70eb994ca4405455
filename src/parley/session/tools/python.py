"""Tools from Python functions: the signature's typed arguments become the JSON schema.

A function's parameters (with their annotations and defaults) make a pydantic model: its JSON
schema is what the model sees, and the model's arguments are validated against it before the
function runs, so a wrong argument is an error the model reads, never a TypeError deep in
your code. A parameter annotated `ToolContext` gets the call's context instead. Async
functions run on the loop; plain ones in a worker thread, so a slow one never stalls the
call (past its timeout the model is told it failed; the thread itself cannot be stopped).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from parley.session.tools.model import Tool, ToolContext, ToolError
from parley.types import ToolSpec


def load_function(reference: str) -> Callable[..., Any]:
    """ "package.module:function" -> the function (ValueError naming what is missing)."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"a tool function is 'module:function', not {reference!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"tool {reference!r}: cannot import {module_name!r} ({exc})") from exc
    target: Any = module
    for part in attribute.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ValueError(f"tool {reference!r}: {module_name} has no {attribute!r}")
    if not callable(target):
        raise ValueError(f"tool {reference!r} is not callable")
    return typing.cast(Callable[..., Any], target)


def python_tool(
    function: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float | None = None,
) -> Tool:
    """A tool that calls `function` with the model's arguments."""
    tool_name = name or function.__name__
    hints = typing.get_type_hints(function)
    fields: dict[str, Any] = {}
    context_parameter: str | None = None
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise ValueError(f"tool {tool_name}: *args and **kwargs cannot be described")
        annotation = hints.get(parameter.name, Any)
        if annotation is ToolContext:
            context_parameter = parameter.name
            continue
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (annotation, default)
    arguments_model: type[BaseModel] = create_model(
        f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
    )
    schema = arguments_model.model_json_schema()
    schema.pop("title", None)
    for property_schema in schema.get("properties", {}).values():
        property_schema.pop("title", None)
    summary = description or (inspect.getdoc(function) or "").split("\n\n")[0].strip()
    is_async = inspect.iscoroutinefunction(function)

    async def handler(arguments: dict[str, Any], context: ToolContext) -> Any:
        try:
            parsed = arguments_model.model_validate(arguments)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors(include_url=False)[:5]
            )
            raise ToolError(f"invalid arguments ({problems})") from None
        kwargs = {key: getattr(parsed, key) for key in fields}
        if context_parameter is not None:
            kwargs[context_parameter] = context
        if is_async:
            return await function(**kwargs)
        result = await asyncio.to_thread(function, **kwargs)
        return await result if inspect.isawaitable(result) else result

    return Tool(ToolSpec(tool_name, summary, schema), handler, timeout_s)
