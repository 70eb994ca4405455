"""An LLM over any OpenAI-compatible chat completions server, streamed with SSE.

OpenAI, Groq, Ollama, vLLM and llama.cpp's server all speak `POST {base}/chat/completions`
with `"stream": true`. The reply's text deltas are yielded as they arrive.

- Retries (with doubling backoff) happen only before the first token: once words have
  been spoken, a retry would say them twice. A failure after that ends the text with what
  came, which the responder speaks.
- A stream that stalls (no token within `first_token_timeout_s`, or no chunk within
  `read_timeout_s` afterwards) fails as stalled rather than hanging the response.
- Closing the iterator (the session does, on barge-in) leaves the `async with` around the
  HTTP response at once, which closes the connection: the server sees the client go.
- Each session keeps one HTTP client (via its SessionScope), so its responses reuse the
  connection; without a session, each stream has its own.
- Tools (`stream_with_tools`) go in the request's `tools`; the model's calls stream as
  `delta.tool_calls` pieces (index, id, name, then the arguments in fragments), which are
  put together and yielded as whole `ToolCall`s when the choice finishes.
- The reply's length limit (`max_tokens`) goes in `max_completion_tokens` on OpenAI's own
  API, whose newer models (o-series, gpt-5) refuse `max_tokens`, and in `max_tokens`
  elsewhere (servers that only know it may ignore the other silently). With
  token_limit_field "auto", a 400 that names the field sent is answered by sending the
  other one, and the choice is remembered for that server and model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from httpx_sse import EventSource, ServerSentEvent
from pydantic import BaseModel, ConfigDict, ValidationError

from parley.providers.base import LLM, LLMOutput, ProviderError
from parley.providers.cloud.common import (
    CredentialsError,
    StalledError,
    UnreachableError,
    quoted,
    redact,
    require_key,
)
from parley.providers.cloud.config import OpenAIChatSettings
from parley.providers.cloud.openai_http import (
    RetryableError,
    client_or_own,
    new_client,
    session_client,
    stream_with_retries,
)
from parley.providers.scope import SessionScope
from parley.types import ChatMessage, TokenUsage, ToolCall, ToolSpec

log = logging.getLogger("parley.cloud.openai")
PROVIDER = "openai-compatible LLM"
TOKEN_FIELDS = ("max_tokens", "max_completion_tokens")
# Hosts whose servers take max_completion_tokens (and whose newer models refuse max_tokens).
COMPLETION_TOKEN_HOSTS = ("api.openai.com",)
# What "auto" learned: (base URL, model) -> the field that server took.
_learned_fields: dict[tuple[str, str], str] = {}


# --- wire messages ---------------------------------------------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FunctionDelta(_Wire):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(_Wire):
    index: int = 0
    id: str | None = None
    function: FunctionDelta | None = None


class Delta(_Wire):
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class Choice(_Wire):
    index: int = 0
    delta: Delta = Delta()
    finish_reason: str | None = None


class ErrorBody(_Wire):
    message: str = ""
    type: str | None = None
    param: str | None = None
    code: str | int | None = None


class UsageBody(_Wire):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ChatChunk(_Wire):
    choices: list[Choice] = []
    error: ErrorBody | None = None
    usage: UsageBody | None = None


class ErrorReply(_Wire):
    error: ErrorBody | None = None


# --- the provider ----------------------------------------------------------------------------


class _FieldRefused(ProviderError):
    """A 400 naming the token limit field the request carried."""


class OpenAIChatLLM(LLM):
    name = "openai"
    supports_tools = True

    def __init__(self, settings: OpenAIChatSettings, client: httpx.AsyncClient | None = None):
        self.settings = settings
        self._client = client  # a session's client (see for_session); None: one per stream

    def for_session(self, scope: SessionScope) -> OpenAIChatLLM:
        return OpenAIChatLLM(self.settings, session_client(scope, self, self.new_client))

    def new_client(self) -> httpx.AsyncClient:
        return new_client(self.settings.base_url, self.settings.connect_timeout_s)

    @property
    def url(self) -> str:
        return self.settings.base_url.rstrip("/") + "/chat/completions"

    def request_body(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolSpec] = (),
        tool_choice: str = "auto",
    ) -> dict[str, Any]:
        s = self.settings
        body: dict[str, Any] = {
            "model": s.model,
            "messages": [wire_message(m) for m in messages],
            "stream": True,
        }
        if s.stream_usage:
            body["stream_options"] = {"include_usage": True}
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": dict(t.parameters),
                    },
                }
                for t in tools
            ]
            if tool_choice in ("none", "required"):
                body["tool_choice"] = tool_choice
            elif tool_choice != "auto":
                body["tool_choice"] = {"type": "function", "function": {"name": tool_choice}}
        if s.temperature is not None:
            body["temperature"] = s.temperature
        if s.max_tokens is not None:
            body[self.token_field()] = s.max_tokens
        return body

    def token_field(self) -> str:
        """The request field for the reply's token limit (see the module docstring)."""
        s = self.settings
        if s.token_limit_field != "auto":
            return s.token_limit_field
        learned = _learned_fields.get((s.base_url, s.model))
        if learned is not None:
            return learned
        host = urlsplit(s.base_url).hostname or ""
        return "max_completion_tokens" if host in COMPLETION_TOKEN_HOSTS else "max_tokens"

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncGenerator[str, None]:
        return self._text_only(self._generate(self.request_body(messages)))

    def stream_with_tools(
        self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec], tool_choice: str = "auto"
    ) -> AsyncGenerator[LLMOutput, None]:
        return self._generate(self.request_body(messages, tools, tool_choice))

    async def _text_only(
        self, outputs: AsyncGenerator[LLMOutput, None]
    ) -> AsyncGenerator[str, None]:
        """Without tools offered, a model makes no calls: only text comes."""
        try:
            async for output in outputs:
                if isinstance(output, str):
                    yield output
        finally:
            await outputs.aclose()

    def _other_field(self, body: dict[str, Any], error: _FieldRefused) -> dict[str, Any] | None:
        """The body with its token limit in the other field, when "auto" may switch."""
        s = self.settings
        sent = next((f for f in TOKEN_FIELDS if f in body), None)
        if s.token_limit_field != "auto" or sent is None:
            return None
        other = TOKEN_FIELDS[1 - TOKEN_FIELDS.index(sent)]
        log.info("%s; sending the limit as %s instead", error, other)
        _learned_fields[(s.base_url, s.model)] = other
        changed = {k: v for k, v in body.items() if k != sent}
        changed[other] = body[sent]
        return changed

    async def _generate(self, body: dict[str, Any]) -> AsyncGenerator[LLMOutput, None]:
        s = self.settings
        key = require_key(s.api_key, PROVIDER, s.key_variable, "PARLEY_OPENAI__API_KEY")
        headers = {"Authorization": f"Bearer {key.get_secret_value()}"}
        switched = False  # the token limit went in the other field, after a 400
        async with client_or_own(self._client, self.new_client) as client:

            async def attempt() -> AsyncGenerator[LLMOutput, None]:
                nonlocal body, switched
                while True:
                    try:
                        request = client.stream("POST", self.url, json=body, headers=headers)
                        async with request as reply:
                            await self._check_status(reply)
                            async for output in self._deltas(reply):
                                yield output
                        return
                    except _FieldRefused as exc:
                        other = None if switched else self._other_field(body, exc)
                        if other is None:
                            raise ProviderError(str(exc)) from None
                        body, switched = other, True
                    except httpx.TransportError as exc:  # connecting failed (or a late drop)
                        error = _transport_error(exc, s.connect_timeout_s)
                        raise RetryableError(error) from None

            retried = stream_with_retries(
                attempt, retries=s.retries, first_backoff=s.retry_backoff_s, logger=log
            )
            async with contextlib.aclosing(retried) as outputs:
                async for output in outputs:
                    yield output

    async def _check_status(self, reply: httpx.Response) -> None:
        if reply.status_code == 200:
            return
        await reply.aread()
        status = reply.status_code
        code, message, param = _error_of(reply.content)
        if status in (401, 403):
            what = f"HTTP {status}" + (f", {code}" if code else "")
            raise CredentialsError(f"{PROVIDER}: bad credentials ({what})")
        message = quoted(message, self.settings.api_key)
        detail = f"HTTP {status}" + (f": {message}" if message else "")
        refused = [f for f in TOKEN_FIELDS if param == f or f"'{f}'" in message or
                   f": {f}" in message]  # fmt: skip
        if status == 400 and refused:
            raise _FieldRefused(f"{PROVIDER}: {detail}")
        error = ProviderError(f"{PROVIDER}: {detail}")
        if status == 429 or status >= 500:
            raise RetryableError(error)
        raise error

    async def _deltas(self, reply: httpx.Response) -> AsyncIterator[LLMOutput]:
        """Text deltas and whole tool calls of the SSE stream, with the stall deadlines
        applied to each read."""
        s = self.settings
        events = EventSource(reply).aiter_sse()
        produced = False
        calls = _ToolCalls()
        usage: UsageBody | None = None
        while True:
            deadline = s.read_timeout_s if produced else s.first_token_timeout_s
            event = await self._next_event(events, deadline, produced)
            if event is None or event.data.strip() == "[DONE]":
                for call in calls.finish():
                    yield call
                if usage is not None:
                    yield TokenUsage(usage.prompt_tokens, usage.completion_tokens)
                return
            chunk = self._parse(event)
            usage = chunk.usage or usage
            for choice in chunk.choices:
                if choice.index != 0:
                    continue
                if choice.delta.tool_calls:
                    produced = True
                    calls.add(choice.delta.tool_calls)
                if choice.delta.content:
                    produced = True
                    yield choice.delta.content
                if choice.finish_reason is not None:
                    for call in calls.finish():
                        yield call

    async def _next_event(
        self, events: AsyncIterator[ServerSentEvent], deadline: float, produced: bool
    ) -> ServerSentEvent | None:
        try:
            async with asyncio.timeout(deadline):
                return await anext(events)
        except StopAsyncIteration:
            return None
        except TimeoutError:
            what = "no further text" if produced else "no first token"
            raise RetryableError(
                StalledError(f"{PROVIDER}: {what} within {deadline:g} s")
            ) from None
        except httpx.TransportError as exc:  # the server dropped the connection mid-stream
            error = UnreachableError(f"{PROVIDER}: connection lost ({type(exc).__name__})")
            raise RetryableError(error) from None

    def _parse(self, event: ServerSentEvent) -> ChatChunk:
        try:
            chunk = ChatChunk.model_validate_json(event.data)
        except ValidationError:
            raise ProviderError(f"{PROVIDER}: malformed stream chunk") from None
        if chunk.error is not None:
            message = redact(chunk.error.message, self.settings.api_key)
            raise ProviderError(f"{PROVIDER}: error in stream: {message}")
        return chunk


def wire_message(message: ChatMessage) -> dict[str, Any]:
    """A history message in the chat completions format (a call's content may be null)."""
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        wire["content"] = message.content or None
        wire["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in message.tool_calls
        ]
    if message.role == "tool":
        wire["tool_call_id"] = message.tool_call_id
    return wire


class _ToolCalls:
    """Tool calls streamed in pieces, by index: the first piece names the call (id, name),
    the next ones carry fragments of its JSON arguments."""

    def __init__(self) -> None:
        self._parts: dict[int, tuple[str, str, list[str]]] = {}

    def add(self, deltas: list[ToolCallDelta]) -> None:
        for delta in deltas:
            call_id, name, arguments = self._parts.get(delta.index, ("", "", []))
            function = delta.function or FunctionDelta()
            self._parts[delta.index] = (
                call_id or delta.id or "",
                name or function.name or "",
                [*arguments, function.arguments or ""],
            )

    def finish(self) -> list[ToolCall]:
        parts, self._parts = self._parts, {}
        calls = []
        for index in sorted(parts):
            call_id, name, arguments = parts[index]
            if not name:
                log.warning("a streamed tool call without a name was dropped")
                continue
            calls.append(ToolCall(call_id or f"call_{index}", name, "".join(arguments)))
        return calls


def _transport_error(exc: httpx.TransportError, timeout: float) -> ProviderError:
    if isinstance(exc, httpx.TimeoutException):
        return StalledError(f"{PROVIDER}: no answer within {timeout:g} s")
    return UnreachableError(f"{PROVIDER}: cannot connect ({type(exc).__name__}: {exc})")


def _error_of(body: bytes) -> tuple[str | None, str, str | None]:
    """(code, message, param) of an OpenAI-style error reply, as far as it is one."""
    try:
        reply = ErrorReply.model_validate_json(body)
    except ValidationError:
        return None, body.decode("utf-8", "replace"), None
    if reply.error is None:
        return None, body.decode("utf-8", "replace"), None
    code = None if reply.error.code is None else str(reply.error.code)
    return code, reply.error.message, reply.error.param  # quoted (redacted, then cut) by the caller
