"""Function calling over the Realtime API, with the official client: the client declares a
function, the model calls it (function_call item, arguments events), the client sends the
output and asks again, and the answer is spoken. GA and beta."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from websockets.exceptions import ConnectionClosed

from parley.session import Providers
from parley.testing.fakes import EnergyVAD, FakeLLM, FakeSTT, FakeTTS
from parley.testing.fakes.llm import Scripted, ToolReply
from parley.types import ChatMessage, ToolCall, ToolSpec

from .harness import a_response_still_works, ask_in_text, realtime_server, receiving

WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city now.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]},
}  # fmt: skip
ARGUMENTS = '{"city": "Oslo"}'
RESULT = '{"sky": "sunny", "celsius": 21}'


def weather_model(messages: Sequence[ChatMessage]) -> Scripted:
    """Calls get_weather for a question; answers from the result once it is there."""
    last = messages[-1]
    if last.role == "tool":
        return f"Sunny, {json.loads(last.content)['celsius']} degrees."
    if "weather" in last.content:
        return ToolReply("", (ToolCall("call_w1", "get_weather", ARGUMENTS),))
    return "Still here."


def providers(llm: FakeLLM) -> Providers:
    return Providers(EnergyVAD(), FakeSTT([], final_latency=0.1), llm,
                     FakeTTS(word_duration=0.25, first_byte_latency=0.05))  # fmt: skip


async def round_trip(*, beta: bool) -> tuple[Any, FakeLLM, Any]:
    llm = FakeLLM(weather_model, first_token_latency=0.1, token_latency=0.01)
    async with realtime_server(providers(llm)) as site:
        client = site.client()
        connect = client.beta.realtime.connect if beta else client.realtime.connect
        async with (
            connect(model="gpt-4o-realtime-preview") as conn,
            receiving(conn, beta=beta) as got,
        ):
            created = await got.next("session.created")
            session: Any = {"tools": [WEATHER], "tool_choice": "auto"}
            if not beta:
                session["type"] = "realtime"
            await conn.session.update(session=session)
            updated = await got.next("session.updated")
            await ask_in_text(conn, "what is the weather in oslo")
            await conn.response.create()
            first = await got.next("response.done")
            arguments_done = await got.next("response.function_call_arguments.done")
            call_id = arguments_done["call_id"]
            mark = got.mark()
            await conn.conversation.item.create(
                item={"type": "function_call_output", "call_id": call_id, "output": RESULT}
            )
            added = await got.next("conversation.item.created" if beta else
                                   "conversation.item.added", after=mark)  # fmt: skip
            await conn.response.create()
            second = await got.next("response.done", after=mark)
            history = site.session(created["session"]["id"]).conversation.history
            log = list(got.log)
    return (updated, first, arguments_done, added, second, history, log), llm, None


def check_round_trip(result: Any, llm: FakeLLM, *, beta: bool) -> None:
    (updated, first, arguments_done, added, second, history, log) = result
    assert updated["session"]["tools"] == [WEATHER]
    assert updated["session"]["tool_choice"] == "auto"
    # The model was offered the client's function.
    spec = ToolSpec("get_weather", WEATHER["description"], WEATHER["parameters"])
    assert llm.tools_offered[0] == (spec,)
    # The call: an output item after the message, its arguments, in the API's order.
    types = [e["type"] for _, e in log]
    call_events = [(e["type"], e.get("output_index")) for _, e in log
                   if e["type"].startswith("response.function_call_arguments")
                   or (e["type"].startswith("response.output_item")
                       and e["item"]["type"] == "function_call")]  # fmt: skip
    assert call_events == [
        ("response.output_item.added", 1),
        ("response.function_call_arguments.delta", 1),
        ("response.function_call_arguments.done", 1),
        ("response.output_item.done", 1),
    ]
    assert types.index("response.output_item.done") < types.index("response.done")
    assert arguments_done["name"] == "get_weather"
    assert arguments_done["arguments"] == ARGUMENTS
    assert first["response"]["status"] == "completed"
    [message, call] = first["response"]["output"]
    assert message["type"] == "message"
    assert call == {"id": arguments_done["item_id"], "object": "realtime.item",
                    "type": "function_call", "status": "completed",
                    "call_id": arguments_done["call_id"], "name": "get_weather",
                    "arguments": ARGUMENTS}  # fmt: skip
    # The output joins the conversation after the call; the model answers from it.
    assert added["item"]["type"] == "function_call_output"
    assert added["item"]["call_id"] == arguments_done["call_id"]
    assert added["previous_item_id"] == arguments_done["item_id"]
    transcript = second["response"]["output"][0]["content"][0]["transcript"]
    assert transcript == "Sunny, 21 degrees."
    assert llm.calls[1][-2:] == (
        ChatMessage("assistant", "", tool_calls=(ToolCall("call_w1", "get_weather", ARGUMENTS),)),
        ChatMessage("tool", RESULT, tool_call_id="call_w1"),
    )
    assert [m.role for m in history[1:]] == ["user", "assistant", "tool", "assistant"]


async def test_a_function_call_round_trip_ga() -> None:
    result, llm, _ = await round_trip(beta=False)
    check_round_trip(result, llm, beta=False)


async def test_a_function_call_round_trip_beta() -> None:
    result, llm, _ = await round_trip(beta=True)
    check_round_trip(result, llm, beta=True)


async def test_per_response_tools_and_tool_choice_apply_to_that_response_only() -> None:
    llm = FakeLLM(["First.", "Second."], first_token_latency=0.05, token_latency=0.01)
    async with (
        realtime_server(providers(llm)) as site,
        site.client().realtime.connect(model="gpt-4o-realtime-preview") as conn,
        receiving(conn) as got,
    ):
        await got.next("session.created")
        await ask_in_text(conn, "hello")
        only_weather: Any = {"type": "function", "name": "get_weather"}
        await conn.response.create(response={"tools": [WEATHER], "tool_choice": only_weather})
        mark = got.mark()
        await got.next("response.done")
        await ask_in_text(conn, "again")
        await conn.response.create()
        await got.next("response.done", after=mark)
    assert [len(t) for t in llm.tools_offered] == [1, 0]
    assert llm.tool_choices[0] == "get_weather"
    assert got.errors() == []


async def test_bad_tools_and_outputs_get_the_apis_errors_and_the_session_goes_on() -> None:
    llm = FakeLLM(weather_model, first_token_latency=0.05, token_latency=0.01)
    async with (
        realtime_server(providers(llm)) as site,
        site.client().realtime.connect(model="gpt-4o-realtime-preview") as conn,
        receiving(conn) as got,
    ):
        await got.next("session.created")
        mcp: Any = {"type": "mcp", "server_label": "x", "server_url": "https://example.com"}
        await conn.session.update(session={"type": "realtime", "tools": [mcp]})
        await got.next("session.updated")
        await conn.conversation.item.create(
            item={"type": "function_call_output", "call_id": "call_nope", "output": "{}"}
        )
        no_call_id: Any = {"type": "function_call_output", "output": "{}"}
        await conn.conversation.item.create(item=no_call_id)
        await a_response_still_works(conn, got)
    errors = [(e["code"], e["param"]) for e in got.errors()]
    assert errors == [
        ("unsupported_value", "session.tools[0].type"),
        ("invalid_value", "item.call_id"),
        ("missing_required_parameter", "item.call_id"),
    ]
    assert [len(t) for t in llm.tools_offered] == [0]


async def test_usage_has_the_llms_token_counts() -> None:
    llm = FakeLLM(["Nine in the evening."], first_token_latency=0.05, token_latency=0.01,
                  reports_usage=True)  # fmt: skip
    async with (
        realtime_server(providers(llm)) as site,
        site.client().realtime.connect(model="gpt-4o-realtime-preview") as conn,
        receiving(conn) as got,
    ):
        await got.next("session.created")
        await ask_in_text(conn, "what time is it in tokyo")
        await conn.response.create()
        created = await got.next("response.created")
        done = await got.next("response.done")
    read = sum(len(m.content.split()) for m in llm.calls[0])
    assert created["response"]["usage"] is None
    assert done["response"]["usage"] == {
        "total_tokens": read + 4, "input_tokens": read, "output_tokens": 4,
        "input_token_details": {"text_tokens": read, "audio_tokens": 0, "cached_tokens": 0},
        "output_token_details": {"text_tokens": 4, "audio_tokens": 0},
    }  # fmt: skip


async def test_end_call_closes_the_realtime_socket_after_the_goodbye() -> None:
    end = ToolCall("c1", "end_call", '{"reason": "done"}')
    llm = FakeLLM([ToolReply("", (end,)), "Goodbye now."], first_token_latency=0.05,
                  token_latency=0.01)  # fmt: skip
    async with (
        realtime_server(providers(llm), tools={"end_call": True}) as site,
        site.client().realtime.connect(model="gpt-4o-realtime-preview") as conn,
        receiving(conn) as got,
    ):
        await got.next("session.created")
        await ask_in_text(conn, "that is all, bye")
        await conn.response.create()
        done = await got.next("response.done")
        for _ in range(200):
            if got.closed is not None:
                break
            await asyncio.sleep(0.02)
    # end_call runs on the server: the client sees only the goodbye, then the close.
    assert [o["type"] for o in done["response"]["output"]] == ["message"]
    assert done["response"]["output"][0]["content"][0]["transcript"] == "Goodbye now."
    assert got.closed is not None, "the server did not close the socket"
    assert isinstance(got.closed, ConnectionClosed) and got.closed.rcvd is not None
    assert got.closed.rcvd.code == 1000
