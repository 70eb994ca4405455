"""A call through the cloud cascade whose OpenAI-compatible LLM calls a tool: the fake chat
server streams the call in pieces as OpenAI does and refuses (as OpenAI does) a history
where a call is not followed by its result, so two turns prove the history's shape."""

from __future__ import annotations

from parley.events import AgentResponseDone, ResponseUsage
from parley.session.tools import ToolBox
from parley.session.tools.python import python_tool
from parley.testing.memory_transport import HangUp, Say, Silence, Step

from .calls import cascade_providers, cascade_servers, converse
from .fakes.openai_chat import Reply

STEPS: list[Step] = [
    Silence(0.3), Say("weather in oslo", 1.0), Silence(4.0),
    Say("and tomorrow", 0.8), Silence(3.0), HangUp(),
]  # fmt: skip


async def get_weather(city: str) -> dict[str, str]:
    """The weather in a city now."""
    return {"city": city, "sky": "sunny"}


async def test_a_tool_call_through_the_openai_adapter_and_a_second_turn() -> None:
    async with cascade_servers(STEPS, []) as fakes:
        assert fakes.chat is not None
        fakes.chat.script(
            Reply("Let me check.", first_token_delay=0.1,
                  tool_calls=(("get_weather", '{"city": "Oslo"}'),)),
            Reply("It is sunny in Oslo.", first_token_delay=0.1),
            Reply("Tomorrow too.", first_token_delay=0.1),
        )  # fmt: skip
        box = ToolBox.of([python_tool(get_weather)])
        call = await converse(cascade_providers(fakes), fakes, STEPS, tools=box)
    assert call.errors() == []
    requests = fakes.chat.requests
    assert len(requests) == 3
    assert requests[0]["tools"][0]["function"]["name"] == "get_weather"
    call_id = "call_fake1_0"
    assert requests[1]["messages"][-2:] == [
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
        {"role": "tool", "content": '{"city": "Oslo", "sky": "sunny"}', "tool_call_id": call_id},
    ]  # fmt: skip
    # The second turn's history: the call, its result, what was heard, then the new words.
    roles = [m["role"] for m in requests[2]["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert requests[2]["messages"][4]["content"] == "Let me check. It is sunny in Oslo."
    done = [e.text for _, e in call.events(AgentResponseDone)]
    assert done == ["Let me check. It is sunny in Oslo.", "Tomorrow too."]
    usages = [e for _, e in call.events(ResponseUsage)]
    assert [u.estimated for u in usages] == [False, False]  # the server's counts
    assert usages[0].output_tokens == 3 + 5  # tokens the fake sent, over both requests
