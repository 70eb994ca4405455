"""The OpenAI-compatible LLM against a fake chat completions server (real sockets, real time)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from parley.providers.base import LLMOutput, ProviderError
from parley.providers.cloud import openai_chat
from parley.providers.cloud.common import CredentialsError, StalledError, UnreachableError
from parley.providers.cloud.config import OpenAIChatSettings
from parley.providers.cloud.openai_chat import OpenAIChatLLM
from parley.providers.scope import SessionScope
from parley.types import ChatMessage, TokenUsage, ToolCall, ToolSpec
from tests.serving import serving

from .fakes.openai_chat import KEY, FakeChatServer, Reply, Status
from .fakes.servers import closed_port

MESSAGES = (ChatMessage("system", "Be brief."), ChatMessage("user", "Hi!"))


@pytest.fixture
async def server() -> AsyncIterator[tuple[FakeChatServer, str]]:
    fake = FakeChatServer()
    async with serving(fake, lifespan="off") as host:
        yield fake, f"http://{host}/v1"


def llm(base_url: str, key: str = KEY, **changes: object) -> OpenAIChatLLM:
    base = {"base_url": base_url, "api_key": key, "model": "test-model", "retry_backoff_s": 0.05}
    settings = OpenAIChatSettings.model_validate({**base, **changes})
    return OpenAIChatLLM(settings)


def plain(base_url: str) -> OpenAIChatLLM:
    """Without token counts (they come last, in their own test)."""
    return llm(base_url, stream_usage=False)


async def collect(stream: AsyncIterator[str]) -> list[str]:
    return [delta async for delta in stream]


async def outputs_of(stream: AsyncIterator[LLMOutput]) -> list[LLMOutput]:
    return [output async for output in stream]


async def test_streams_the_reply_token_by_token(server: tuple[FakeChatServer, str]) -> None:
    fake, url = server
    fake.script(Reply("Sure, here you go."))
    deltas = await collect(llm(url).stream(MESSAGES))
    assert deltas == ["Sure, ", "here ", "you ", "go."]
    request = fake.requests[0]
    assert request["model"] == "test-model" and request["stream"] is True
    assert request["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi!"},
    ]


async def test_closing_mid_stream_closes_the_connection_at_once(
    server: tuple[FakeChatServer, str],
) -> None:
    fake, url = server
    fake.script(Reply(" ".join(["word"] * 200), token_delay=0.02))
    stream = llm(url).stream(MESSAGES)
    assert [await anext(stream) for _ in range(3)] == ["word "] * 3
    loop = asyncio.get_running_loop()
    closed_at = loop.time()
    await stream.aclose()
    for _ in range(100):
        if fake.disconnects:
            break
        await asyncio.sleep(0.01)
    assert fake.disconnects, "the server never saw the client go"
    assert fake.disconnects[0] - closed_at < 0.5
    assert fake.tokens_sent[0] < 20  # it stopped streaming long before the 200 tokens


async def test_a_stall_before_the_first_token_is_retried(
    server: tuple[FakeChatServer, str],
) -> None:
    fake, url = server
    fake.script(Reply("never", then="stall", after=0), Reply("Second try."))
    started = time.monotonic()
    deltas = await collect(llm(url, first_token_timeout_s=0.3).stream(MESSAGES))
    assert "".join(deltas) == "Second try."
    assert len(fake.requests) == 2
    assert 0.3 <= time.monotonic() - started < 3.0


async def test_a_stall_after_tokens_fails_without_retrying(
    server: tuple[FakeChatServer, str],
) -> None:
    fake, url = server
    fake.script(Reply("one two three four", then="stall", after=2), Reply("unused"))
    stream = llm(url, read_timeout_s=0.3).stream(MESSAGES)
    got = [await anext(stream), await anext(stream)]
    with pytest.raises(StalledError, match=r"no further text within 0\.3 s"):
        await anext(stream)
    assert got == ["one ", "two "]
    assert len(fake.requests) == 1  # words were out: a retry would say them twice


async def test_a_drop_before_the_first_token_is_retried_and_after_it_fails(
    server: tuple[FakeChatServer, str],
) -> None:
    fake, url = server
    fake.script(Reply("x", then="drop", after=0), Reply("Made it."))
    assert "".join(await collect(llm(url).stream(MESSAGES))) == "Made it."
    fake.script(Reply("one two three", then="drop", after=1))
    stream = llm(url).stream(MESSAGES)
    assert await anext(stream) == "one "
    with pytest.raises(UnreachableError, match="connection lost"):
        await anext(stream)
    assert len(fake.requests) == 3


async def test_server_errors_are_retried_with_backoff_then_reported(
    server: tuple[FakeChatServer, str],
) -> None:
    fake, url = server
    fake.script(Status(503), Status(429), Reply("Third time."))
    started = time.monotonic()
    assert "".join(await collect(llm(url).stream(MESSAGES))) == "Third time."
    assert time.monotonic() - started >= 0.05 + 0.1  # two backoffs: 50 ms, then 100 ms
    fake.script(Status(500), Status(500), Status(500))
    with pytest.raises(ProviderError, match="HTTP 500"):
        await collect(llm(url, retries=2).stream(MESSAGES))
    assert len(fake.requests) == 6


async def test_bad_credentials_fail_at_once_and_never_show_the_key(
    server: tuple[FakeChatServer, str],
) -> None:
    fake, url = server
    wrong = "sk-wrong-key-that-must-stay-secret"
    with pytest.raises(CredentialsError) as failure:
        await collect(llm(url, key=wrong).stream(MESSAGES))
    message = str(failure.value)
    assert "HTTP 401" in message and "invalid_api_key" in message
    assert wrong not in message and wrong[-4:] not in message
    assert fake.requests == []  # refused before the body was looked at; no retry either


async def test_no_key_and_no_route_are_reported_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = OpenAIChatSettings.model_validate({"base_url": "http://127.0.0.1:9/v1"})
    with pytest.raises(CredentialsError, match="no API key"):
        await collect(OpenAIChatLLM(settings).stream(MESSAGES))
    with pytest.raises(UnreachableError, match="cannot connect"):
        await collect(llm(f"http://{closed_port()}/v1", retries=0).stream(MESSAGES))


async def test_a_session_reuses_one_client_and_closes_it_with_the_session(
    server: tuple[FakeChatServer, str],
) -> None:
    _, url = server
    scope = SessionScope()
    provider = llm(url)
    bound = provider.for_session(scope)
    assert bound._client is not None and bound._client is provider.for_session(scope)._client
    first = "".join(await collect(bound.stream(MESSAGES)))
    second = "".join(await collect(bound.stream(MESSAGES)))
    assert first == second == "Hello there. How can I help?"
    client = bound._client
    assert client is not None and not client.is_closed
    await scope.aclose()
    assert client.is_closed


def test_the_key_is_secret_in_settings() -> None:
    settings = OpenAIChatSettings.model_validate({"api_key": SecretStr("sk-very-secret")})
    assert "sk-very-secret" not in repr(settings) and "sk-very-secret" not in str(settings)


def test_the_token_limit_field_suits_the_server() -> None:
    def field(base_url: str, **changes: object) -> str:
        return llm(base_url, KEY, max_tokens=50, **changes).token_field()

    assert field("https://api.openai.com/v1") == "max_completion_tokens"
    assert field("https://api.groq.com/openai/v1") == "max_tokens"
    assert field("http://localhost:11434/v1") == "max_tokens"
    assert field("https://api.openai.com/v1", token_limit_field="max_tokens") == "max_tokens"
    assert "max_tokens" not in llm("http://x/v1").request_body(MESSAGES)  # no limit: neither


async def test_a_server_refusing_max_tokens_gets_max_completion_tokens(
    server: tuple[FakeChatServer, str],
) -> None:
    # OpenAI's newer models answer max_tokens with a 400 naming it.
    fake, url = server
    fake.token_field = "max_completion_tokens"
    fake.script(Reply("one two three four five"), Reply("six seven eight nine ten"))
    chat = llm(url, max_tokens=3, model="refuses-max-tokens")
    first = await collect(chat.stream(MESSAGES))
    second = await collect(chat.stream(MESSAGES))  # the choice is remembered
    assert first == ["one ", "two ", "three "] and second == ["six ", "seven ", "eight "]
    limits = [{k: v for k, v in r.items() if k.startswith("max")} for r in fake.requests]
    assert limits == [
        {"max_tokens": 3},
        {"max_completion_tokens": 3},
        {"max_completion_tokens": 3},
    ]


async def test_a_server_that_only_knows_max_tokens_gets_it_back(
    server: tuple[FakeChatServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = server
    fake.token_field = "max_tokens"
    monkeypatch.setattr(openai_chat, "COMPLETION_TOKEN_HOSTS", ("127.0.0.1",))  # as OpenAI
    chat = llm(url, max_tokens=2, model="knows-max-tokens")
    assert await collect(chat.stream(MESSAGES)) == ["Hello ", "there. "]
    limits = [{k: v for k, v in r.items() if k.startswith("max")} for r in fake.requests]
    assert limits == [{"max_completion_tokens": 2}, {"max_tokens": 2}]


async def test_a_fixed_token_limit_field_is_not_switched(
    server: tuple[FakeChatServer, str],
) -> None:
    fake, url = server
    fake.token_field = "max_completion_tokens"
    chat = llm(url, max_tokens=3, token_limit_field="max_tokens")
    with pytest.raises(ProviderError, match="HTTP 400: Unsupported parameter: 'max_tokens'"):
        await collect(chat.stream(MESSAGES))
    assert len(fake.requests) == 1


WEATHER = ToolSpec(
    "get_weather",
    "The weather in a city now.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


async def test_tool_calls_stream_in_pieces_and_come_out_whole(
    server: tuple[FakeChatServer, str],
) -> None:
    """OpenAI streams a call's arguments in fragments after a first piece with its id and
    name; the adapter yields the call whole, after the text that came before it."""
    fake, url = server
    arguments = '{"city": "Lisbon, Portugal"}'
    fake.script(Reply("Let me check.", tool_calls=(("get_weather", arguments),)))
    outputs = await outputs_of(plain(url).stream_with_tools(MESSAGES, [WEATHER]))
    assert outputs[:3] == ["Let ", "me ", "check."]
    assert outputs[3:] == [ToolCall("call_fake1_0", "get_weather", arguments)]
    assert fake.requests[0]["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The weather in a city now.",
                "parameters": dict(WEATHER.parameters),
            },
        }
    ]


async def test_the_calls_and_results_go_back_in_openais_format(
    server: tuple[FakeChatServer, str],
) -> None:
    """The fake refuses, as OpenAI does, a call not answered by a tool message."""
    fake, url = server
    call = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')
    history = (
        *MESSAGES,
        ChatMessage("assistant", "", tool_calls=(call,)),
        ChatMessage("tool", '{"sky": "clear"}', tool_call_id="call_1"),
    )
    assert await outputs_of(plain(url).stream_with_tools(history, [WEATHER])) == [
        "Hello ", "there. ", "How ", "can ", "I ", "help?"]  # fmt: skip
    assert fake.requests[0]["messages"][2:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "content": '{"sky": "clear"}', "tool_call_id": "call_1"},
    ]
    with pytest.raises(ProviderError, match="must be followed by tool messages"):
        await outputs_of(plain(url).stream_with_tools(history[:-1], [WEATHER]))


async def test_two_calls_at_once_keep_their_own_arguments(
    server: tuple[FakeChatServer, str],
) -> None:
    fake, url = server
    fake.script(Reply("", tool_calls=(("a", '{"x": 1}'), ("b", '{"y": "two"}'))))
    outputs = await outputs_of(plain(url).stream_with_tools(MESSAGES, [WEATHER]))
    assert outputs == [ToolCall("call_fake1_0", "a", '{"x": 1}'),
                       ToolCall("call_fake1_1", "b", '{"y": "two"}')]  # fmt: skip


async def test_token_counts_come_last_when_the_server_reports_them(
    server: tuple[FakeChatServer, str],
) -> None:
    """OpenAI sends usage in a last chunk without choices when asked (include_usage)."""
    fake, url = server
    fake.script(Reply("Sure, here you go."))
    outputs = await outputs_of(llm(url).stream_with_tools(MESSAGES, ()))
    assert outputs == ["Sure, ", "here ", "you ", "go.", TokenUsage(3, 4)]  # 3 prompt words
    assert fake.requests[0]["stream_options"] == {"include_usage": True}
    # The text-only stream (no tools) has no counts in it.
    fake.script(Reply("Sure."))
    assert await collect(llm(url).stream(MESSAGES)) == ["Sure."]
    # A server that does not count sends none; one that refuses the field can be spared it.
    fake.reports_usage = False
    fake.script(Reply("Sure."))
    assert await outputs_of(llm(url).stream_with_tools(MESSAGES, ())) == ["Sure."]
    fake.script(Reply("Sure."))
    await outputs_of(llm(url, stream_usage=False).stream_with_tools(MESSAGES, ()))
    assert "stream_options" not in fake.requests[-1]
