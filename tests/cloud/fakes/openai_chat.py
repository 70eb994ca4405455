"""A fake OpenAI-compatible chat completions server (POST /v1/chat/completions, SSE).

It answers like OpenAI: 401 with an `invalid_api_key` error body for a wrong key, 400 for a
malformed request, and `data: {chunk}` lines ending in `data: [DONE]` for a stream. Each
request takes the next scripted plan: a reply (with latencies), optionally stalling or
dropping the connection after some tokens, or a bare HTTP status. It records the requests
and when each streaming client went away.

The reply's token limit is honoured (finish_reason "length"), in the field `token_field`
says the server takes: "max_completion_tokens" answers max_tokens as OpenAI does for its
newer models (400, unsupported_parameter, param "max_tokens"); "max_tokens" answers
max_completion_tokens as a server that only knows the older field may (400, "Unrecognized
request argument supplied"); "any" takes both.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

KEY = "sk-test-0123456789abcdef"


@dataclass(frozen=True)
class Reply:
    text: str = "Hello there. How can I help?"
    first_token_delay: float = 0.01
    token_delay: float = 0.005
    then: Literal["finish", "stall", "drop"] = "finish"
    after: int = 0  # tokens sent before stalling or dropping
    # Function calls after the text, (name, JSON arguments): streamed as OpenAI does, the
    # arguments in fragments of `argument_piece` characters, finish_reason "tool_calls".
    tool_calls: tuple[tuple[str, str], ...] = ()
    argument_piece: int = 7


@dataclass(frozen=True)
class Status:
    code: int
    message: str = "The server had an error while processing your request."


Plan = Reply | Status


@dataclass
class FakeChatServer:
    key: str = KEY
    token_field: Literal["any", "max_tokens", "max_completion_tokens"] = "any"
    plans: deque[Plan] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    disconnects: list[float] = field(default_factory=list)  # loop time of each client's leaving
    tokens_sent: list[int] = field(default_factory=list)  # per streamed request
    reports_usage: bool = True  # answer stream_options.include_usage (some servers do not)

    def script(self, *plans: Plan) -> None:
        self.plans.extend(plans)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] != "POST" or scope["path"] != "/v1/chat/completions":
            await _json(send, 404, _error("Unknown request URL.", "invalid_request_error", None))
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if headers.get("authorization") != f"Bearer {self.key}":
            presented = headers.get("authorization", "").removeprefix("Bearer ")
            masked = f"{presented[:3]}***{presented[-4:]}" if presented else ""
            message = f"Incorrect API key provided: {masked}."
            await _json(send, 401, _error(message, "invalid_request_error", "invalid_api_key"))
            return
        try:
            request = json.loads(body)
            assert isinstance(request["model"], str) and isinstance(request["messages"], list)
        except (ValueError, KeyError, AssertionError, TypeError):
            await _json(send, 400, _error("Invalid request body.", "invalid_request_error", None))
            return
        self.requests.append(request)
        unanswered = _unanswered_tool_call(request["messages"])
        if unanswered is not None:
            message = (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                f"responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {unanswered}"
            )
            await _json(send, 400, _error(message, "invalid_request_error", None))
            return
        if self.token_field == "max_completion_tokens" and "max_tokens" in request:
            message = (
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead."
            )
            refusal = _error(message, "invalid_request_error", "unsupported_parameter")
            refusal["error"]["param"] = "max_tokens"
            await _json(send, 400, refusal)
            return
        if self.token_field == "max_tokens" and "max_completion_tokens" in request:
            message = "Unrecognized request argument supplied: max_completion_tokens"
            await _json(send, 400, _error(message, "invalid_request_error", None))
            return
        limit = request.get("max_completion_tokens", request.get("max_tokens"))
        plan = self.plans.popleft() if self.plans else Reply()
        if isinstance(plan, Status):
            await _json(send, plan.code, _error(plan.message, "server_error", None))
            return
        if not request.get("stream"):
            await _json(send, 400, _error("This fake only streams.", "invalid_request", None))
            return
        await self._stream(plan, request, receive, send, limit)

    async def _stream(
        self, plan: Reply, request: dict[str, Any], receive: Any, send: Any,
        limit: int | None = None,
    ) -> None:  # fmt: skip
        model = request["model"]
        gone = asyncio.Event()
        loop = asyncio.get_running_loop()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            self.disconnects.append(loop.time())
            gone.set()

        watcher = asyncio.create_task(watch())
        sent = 0
        self.tokens_sent.append(0)
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")],
                }
            )
            await _event(send, _chunk(model, {"role": "assistant", "content": ""}, None))
            await asyncio.sleep(plan.first_token_delay)
            finish = "stop"
            for token in re.findall(r"\S+\s*", plan.text):
                if plan.then != "finish" and sent == plan.after:
                    break
                if limit is not None and sent == limit:
                    finish = "length"
                    break
                if gone.is_set():
                    return
                if sent:
                    await asyncio.sleep(plan.token_delay)
                await _event(send, _chunk(model, {"content": token}, None))
                sent += 1
                self.tokens_sent[-1] = sent
            if plan.then == "stall":
                await gone.wait()
                return
            if plan.then == "drop":
                raise ConnectionAbortedError("fake server drops the connection")
            for index, (name, arguments) in enumerate(plan.tool_calls):
                finish = "tool_calls"
                call_id = f"call_fake{len(self.requests)}_{index}"
                function = {"name": name, "arguments": ""}
                opening = {"index": index, "id": call_id, "type": "function", "function": function}
                await _event(send, _chunk(model, {"tool_calls": [opening]}, None))
                step = plan.argument_piece
                for start in range(0, len(arguments), step):
                    piece = {
                        "index": index,
                        "function": {"arguments": arguments[start : start + step]},
                    }
                    await _event(send, _chunk(model, {"tool_calls": [piece]}, None))
            await _event(send, _chunk(model, {}, finish))
            if (self.reports_usage and isinstance(request.get("stream_options"), dict)
                    and request["stream_options"].get("include_usage")):  # fmt: skip
                # As OpenAI does: one more chunk, no choices, the counts. Prompt tokens here
                # are the words of the messages (a tokenizer's count differs, not the shape).
                prompt = sum(len(str(m.get("content") or "").split()) for m in request["messages"])
                usage = {"prompt_tokens": prompt, "completion_tokens": sent,
                         "total_tokens": prompt + sent}  # fmt: skip
                chunk = _chunk(model, {}, None) | {"choices": [], "usage": usage}
                await _event(send, chunk)
            await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        finally:
            watcher.cancel()


def _unanswered_tool_call(messages: list[Any]) -> str | None:
    """The first tool_call_id of an assistant message not answered by the tool messages that
    follow it (OpenAI refuses such a request with a 400)."""
    for position, message in enumerate(messages):
        if not isinstance(message, dict) or not message.get("tool_calls"):
            continue
        answered = set()
        for later in messages[position + 1 :]:
            if not isinstance(later, dict) or later.get("role") != "tool":
                break
            answered.add(later.get("tool_call_id"))
        for call in message["tool_calls"]:
            if call.get("id") not in answered:
                return str(call.get("id"))
    return None


def _chunk(model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [choice],
    }


async def _event(send: Any, data: dict[str, Any]) -> None:
    line = f"data: {json.dumps(data)}\n\n".encode()
    await send({"type": "http.response.body", "body": line, "more_body": True})


def _error(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


async def _json(send: Any, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})
