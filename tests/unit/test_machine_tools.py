"""Tool calls in the pure machine: a client's calls and results in the history, in order,
and a later truncation still cuts the right message."""

from __future__ import annotations

from parley.conversation import Conversation, TurnTakingPolicy
from parley.conversation.actions import Emit
from parley.conversation.inputs import (
    PlaybackFinished,
    ToolCallsRequested,
    ToolResultAdded,
    TruncateRequested,
)
from parley.events import AgentToolCall
from parley.types import ChatMessage, ToolCall

from .test_machine import speaking

CALL = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')


def test_a_result_goes_right_after_its_call_and_truncation_still_finds_its_message() -> None:
    machine = Conversation(TurnTakingPolicy(merge_gap_ms=0))
    response = speaking(machine, "let me check")
    actions = machine.handle(ToolCallsRequested(2.1, response, (CALL,)))
    told = [a.event for a in actions if isinstance(a, Emit)]
    assert told == [AgentToolCall(response, "call_1", "get_weather", '{"city": "Oslo"}')]
    machine.handle(PlaybackFinished(3.0, response, played=0.75))
    # The assistant's words were heard after the call was made: the result comes late.
    assert [m.role for m in machine.history] == ["user", "assistant", "assistant"]
    machine.handle(ToolResultAdded(4.0, "call_1", '{"sky": "sunny"}'))
    assert machine.history == (
        ChatMessage("user", "hello"),
        ChatMessage("assistant", "", tool_calls=(CALL,)),
        ChatMessage("tool", '{"sky": "sunny"}', tool_call_id="call_1"),
        ChatMessage("assistant", "let me check"),
    )
    # The spoken message moved down one: a truncation cuts it, not the tool result.
    machine.handle(TruncateRequested(5.0, response, played=0.3))
    assert machine.history[-1] == ChatMessage("assistant", "let me", interrupted=True)
    assert machine.history[2].role == "tool"


def test_a_result_for_an_unknown_call_joins_at_the_end() -> None:
    machine = Conversation(TurnTakingPolicy(merge_gap_ms=0))
    machine.handle(ToolResultAdded(1.0, "call_x", "42"))
    assert machine.history == (ChatMessage("tool", "42", tool_call_id="call_x"),)
