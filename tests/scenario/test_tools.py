"""Tools in the cascade, on the virtual clock: the model calls a function, its result goes
back, the answer is spoken; slow, failing and interrupted tools; the call ends itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import pytest

from parley.conversation import TurnTakingPolicy
from parley.events import (
    AgentResponseDone,
    AgentTranscript,
    ErrorEvent,
    ResponseUsage,
    SessionEnded,
    TurnMetrics,
)
from parley.session import SessionConfig
from parley.session.tools import ToolBox
from parley.session.tools.builtin import end_call_tool, transfer_call_tool
from parley.session.tools.python import python_tool
from parley.session.usage import estimate_tokens
from parley.testing.fakes import FakeLLM, FakeSTT, FakeTurnDetector
from parley.testing.fakes.llm import Scripted, ToolReply
from parley.testing.memory_transport import HangUp, Say, Silence, Step, Wait, stt_script
from parley.types import ChatMessage, ToolCall

from .harness import Call, agent_started_speaking, converse, response_started

WEATHER_CALL = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')
STEPS: list[Step] = [Silence(0.3), Say("weather in oslo", 1.0), Silence(8.0), HangUp()]


def weather_box(delay: float = 0.3, **options: object) -> tuple[ToolBox, list[str]]:
    asked: list[str] = []

    async def get_weather(city: str, units: str = "celsius") -> dict[str, object]:
        """The weather in a city now.

        (Not part of the description.)"""
        asked.append(city)
        await asyncio.sleep(delay)
        return {"city": city, "sky": "sunny", "units": units}

    return ToolBox.of([python_tool(get_weather)], **options), asked


def said(call: Call, response_id: str) -> list[str]:
    return [e.text for _, e in call.events(AgentTranscript) if e.response_id == response_id]


def metrics(call: Call) -> list[TurnMetrics]:
    return [e for _, e in call.events(TurnMetrics)]


def test_a_tool_call_runs_and_its_result_is_answered() -> None:
    box, asked = weather_box(delay=0.3)
    llm = FakeLLM([ToolReply("Let me check.", (WEATHER_CALL,)), "It is sunny in Oslo."])
    call = converse(STEPS, llm=llm, tools=box)
    assert asked == ["Oslo"]
    spec = box.specs[0]
    assert spec.description == "The weather in a city now."
    assert spec.parameters == {
        "type": "object", "additionalProperties": False, "required": ["city"],
        "properties": {"city": {"type": "string"},
                       "units": {"type": "string", "default": "celsius"}}}  # fmt: skip
    assert llm.tools_offered[0] == (spec,)
    result = '{"city": "Oslo", "sky": "sunny", "units": "celsius"}'
    second = llm.calls[1]
    assert second[-2:] == (
        ChatMessage("assistant", "Let me check.", tool_calls=(WEATHER_CALL,)),
        ChatMessage("tool", result, tool_call_id="call_1"),
    )
    assert call.session.conversation.history[1:] == (
        ChatMessage("user", "weather in oslo"),
        ChatMessage("assistant", "", tool_calls=(WEATHER_CALL,)),
        ChatMessage("tool", result, tool_call_id="call_1"),
        ChatMessage("assistant", "Let me check. It is sunny in Oslo."),
    )
    assert said(call, "resp_1") == ["Let me check.", "It is sunny in Oslo."]
    [turn] = metrics(call)
    assert turn.timings.status == "completed"
    assert turn.timings.tool_calls == 1
    assert turn.timings.tool_seconds == pytest.approx(0.3)  # virtual clock: exactly the sleep
    assert "tools=1/300ms" in turn.timings.summary()
    assert call.errors() == []
    assert call.tasks_left == set()


def test_a_slow_tool_gets_a_filler_said_while_it_runs() -> None:
    box, _ = weather_box(delay=2.5, filler_after_s=0.8, filler="One moment.")
    llm = FakeLLM([ToolReply("", (WEATHER_CALL,)), "Sunny."])
    call = converse(STEPS, llm=llm, tools=box)
    assert said(call, "resp_1") == ["One moment.", "Sunny."]
    times = {e.text: t for t, e in call.events(AgentTranscript)}
    started = call.events(AgentTranscript)[0][0] - 0.8
    assert times["Sunny."] - started >= 2.5  # the answer waited for the tool
    assert call.session.conversation.history[-1] == ChatMessage("assistant", "One moment. Sunny.")
    assert metrics(call)[0].timings.tool_seconds == pytest.approx(2.5)


def test_a_fast_tool_says_no_filler() -> None:
    box, _ = weather_box(delay=0.5, filler_after_s=0.8)
    call = converse(STEPS, llm=FakeLLM([ToolReply("", (WEATHER_CALL,)), "Sunny."]), tools=box)
    assert said(call, "resp_1") == ["Sunny."]


TWO_TURNS: list[Step] = [
    Silence(0.3), Say("weather in oslo", 1.0), Silence(6.0),
    Say("thanks", 0.6), Silence(4.0), HangUp(),
]  # fmt: skip


def test_a_failing_tool_is_an_error_the_model_reads_and_the_call_goes_on() -> None:
    async def get_weather(city: str) -> str:
        raise RuntimeError("the weather service is down")

    box = ToolBox.of([python_tool(get_weather)])
    llm = FakeLLM([ToolReply("", (WEATHER_CALL,)), "I could not check.", "You are welcome."])
    call = converse(TWO_TURNS, llm=llm, tools=box)
    error = {"error": "it failed: RuntimeError: the weather service is down"}
    assert llm.calls[1][-1] == ChatMessage("tool", json.dumps(error), tool_call_id="call_1")
    assert call.errors() == ["tool_failed"]
    [event] = [e for _, e in call.events(ErrorEvent)]
    assert event.message == "get_weather: it failed: RuntimeError: the weather service is down"
    done = [e.text for _, e in call.events(AgentResponseDone)]
    assert done == ["I could not check.", "You are welcome."]


def test_a_tool_past_its_timeout_is_an_error_and_the_answer_comes_at_the_timeout() -> None:
    box, _ = weather_box(delay=30.0, timeout_s=1.5, filler_after_s=None)
    llm = FakeLLM([ToolReply("", (WEATHER_CALL,)), "The service is slow."])
    call = converse(STEPS, llm=llm, tools=box)
    assert json.loads(llm.calls[1][-1].content) == {"error": "no result within 1.5 s"}
    assert call.errors() == ["tool_failed"]
    assert metrics(call)[0].timings.tool_seconds == pytest.approx(1.5)
    assert call.tasks_left == set()


def test_unknown_tools_and_malformed_arguments_are_errors_the_model_reads() -> None:
    box, asked = weather_box()
    calls = (
        ToolCall("a", "launch_rocket", "{}"),
        ToolCall("b", "get_weather", '{"city": '),
        ToolCall("c", "get_weather", '{"town": "Oslo"}'),
        ToolCall("d", "get_weather", "[1]"),
    )
    llm = FakeLLM([ToolReply("", calls), "Sorry."])
    call = converse(STEPS, llm=llm, tools=box)
    errors = [json.loads(m.content)["error"] for m in llm.calls[1][-4:]]
    assert errors == [
        "there is no tool named 'launch_rocket'",
        "the arguments are not valid JSON",
        "invalid arguments (city: Field required; town: Extra inputs are not permitted)",
        "the arguments must be a JSON object",
    ]
    assert asked == []
    assert call.errors() == ["tool_failed"] * 4
    assert said(call, "resp_1") == ["Sorry."]


def test_barge_in_during_a_tool_speaks_nothing_stale_and_keeps_the_result() -> None:
    """The person speaks while the tool runs: the response is cancelled, the model is not
    asked again for it, and the tool's call and result still join the history."""
    box, asked = weather_box(delay=3.0, filler_after_s=None)

    def reply(messages: Sequence[ChatMessage]) -> Scripted:
        last = messages[-1]
        if last.role == "tool":
            return "STALE ANSWER."  # resp_1, asked again: it must not be
        return "Sure, go ahead." if "wait" in last.content else ToolReply("", (WEATHER_CALL,))

    llm = FakeLLM(reply)
    steps: list[Step] = [
        Silence(0.3), Say("weather in oslo", 1.0),
        Wait(response_started(1), then=1.0), Say("actually wait", 0.8),
        Silence(8.0), HangUp(),
    ]  # fmt: skip
    call = converse(steps, llm=llm, tools=box)
    assert asked == ["Oslo"]
    assert len(llm.calls) == 2  # resp_1's tool round never asked the model again
    assert llm.calls[1][-1] == ChatMessage("user", "weather in oslo actually wait")
    texts = [e.text for _, e in call.events(AgentTranscript)]
    assert "STALE ANSWER." not in texts
    assert call.sent_times("resp_1") == []
    history = call.session.conversation.history
    result = '{"city": "Oslo", "sky": "sunny", "units": "celsius"}'
    assert ChatMessage("tool", result, tool_call_id="call_1") in history
    assert history[-1] == ChatMessage("assistant", "Sure, go ahead.")
    assert history.index(ChatMessage("tool", result, tool_call_id="call_1")) == len(history) - 2
    assert call.tasks_left == set()


def test_end_call_hangs_up_after_the_goodbye_has_played() -> None:
    box = ToolBox.of([end_call_tool()])
    end = ToolCall("bye", "end_call", '{"reason": "the person said goodbye"}')
    llm = FakeLLM([ToolReply("", (end,)), "Goodbye, take care."])
    steps: list[Step] = [Silence(0.3), Say("that is all bye", 1.0), Silence(30.0), HangUp()]
    call = converse(steps, llm=llm, tools=box)
    assert call.session.end_reason == "the person said goodbye"
    [(ended_at, _)] = call.events(SessionEnded)
    last_frame = call.sent_times("resp_1")[-1]
    [(done_at, done)] = call.events(AgentResponseDone)
    assert done.status == "completed" and done.text == "Goodbye, take care."
    assert last_frame < done_at <= ended_at < 5.0  # long before the caller's own hangup
    heard = call.transport.listener.heard_samples("resp_1")
    sent = sum(len(f.audio.pcm) // 2 for _, f in call.transport.sent if f.response_id == "resp_1")
    assert len(heard) == sent  # every frame was heard


def test_transfer_on_a_call_that_cannot_be_transferred_is_an_error_the_model_reads() -> None:
    box = ToolBox.of([transfer_call_tool({"sales": "+14155550100"})])
    transfer = ToolCall("t", "transfer_call", '{"to": "sales"}')
    llm = FakeLLM([ToolReply("", (transfer,)), "I cannot transfer you, sorry."])
    call = converse(STEPS, llm=llm, tools=box)
    error = {"error": "a MemoryTransport call cannot be transferred"}
    assert llm.calls[1][-1] == ChatMessage("tool", json.dumps(error), tool_call_id="t")
    assert call.errors() == ["tool_failed"]
    assert call.session.end_reason == "caller hung up"  # the call went on to its end


def test_token_usage_is_the_llms_own_count_summed_over_tool_rounds() -> None:
    box, _ = weather_box(delay=0.3)
    llm = FakeLLM([ToolReply("Let me check.", (WEATHER_CALL,)), "It is sunny in Oslo."],
                  reports_usage=True)  # fmt: skip
    call = converse(STEPS, llm=llm, tools=box)
    [(_, usage)] = call.events(ResponseUsage)
    first_read = sum(len(m.content.split()) for m in llm.calls[0])
    second_read = sum(len(m.content.split()) for m in llm.calls[1])
    # written: 3 words + 1 call, then 5 words
    assert (usage.input_tokens, usage.output_tokens) == (first_read + second_read, 4 + 5)
    assert not usage.estimated


def test_token_usage_is_estimated_and_says_so_when_the_llm_reports_none() -> None:
    call = converse(STEPS, llm=FakeLLM(["It is sunny in Oslo."]))
    [(_, usage)] = call.events(ResponseUsage)
    read = " ".join(m.content for m in call.llm.calls[0])
    assert usage.estimated
    assert usage.input_tokens == estimate_tokens(read)
    assert usage.output_tokens == estimate_tokens("It is sunny in Oslo.") == 5


def test_a_text_only_response_sends_no_audio_and_its_text_joins_the_history() -> None:
    call = converse(STEPS, llm=FakeLLM(["It is sunny in Oslo today."]),
                    prepare=lambda session: session.set_text_only(True))  # fmt: skip
    assert call.sent_times("resp_1") == []
    assert said(call, "resp_1") == ["It is sunny in Oslo today."]
    [(_, done)] = call.events(AgentResponseDone)
    assert (done.status, done.text) == ("completed", "It is sunny in Oslo today.")
    assert call.session.conversation.history[-1] == ChatMessage(
        "assistant", "It is sunny in Oslo today.")  # fmt: skip
    assert call.tasks_left == set()


def test_an_interrupted_goodbye_calls_the_hangup_off() -> None:
    """The person speaks over the agent's goodbye: they had more to say, the call goes on."""
    box = ToolBox.of([end_call_tool()])
    end = ToolCall("bye", "end_call", "{}")
    goodbye = "Goodbye then, it was lovely talking to you today, take care of yourself."
    llm = FakeLLM([ToolReply("", (end,)), goodbye, "Of course, go ahead."])
    steps: list[Step] = [
        Silence(0.3), Say("that is all bye", 1.0),
        Wait(agent_started_speaking(1), then=1.0), Say("wait one more thing", 1.2),
        Silence(6.0), HangUp(),
    ]  # fmt: skip
    call = converse(steps, llm=llm, tools=box)
    done = [(e.status, e.text) for _, e in call.events(AgentResponseDone)]
    assert done[0][0] == "interrupted"
    assert done[1] == ("completed", "Of course, go ahead.")
    assert call.session.end_reason == "caller hung up"


def test_a_preemptive_answer_acts_only_once_it_is_the_answer() -> None:
    """A held (preemptive) answer that calls a tool waits for its release: the one dropped
    because the person went on never ran its tool; the one used ran it once."""
    box, asked = weather_box(delay=0.1, filler_after_s=None)

    def reply(messages: Sequence[ChatMessage]) -> Scripted:
        last = messages[-1]
        if last.role == "tool":
            return "It is sunny."
        return ToolReply(
            "", (ToolCall("call_1", "get_weather", json.dumps({"city": last.content})),)
        )

    steps: list[Step] = [
        Silence(0.3), Say("Oslo", 0.6),
        Silence(0.35),  # 'complete' at 250 ms of silence; speech resumes in the merge gap
        Say("Bergen", 0.8), Silence(4.0), HangUp(),
    ]  # fmt: skip
    policy = TurnTakingPolicy(turn_detector="fake", preemptive_response=True)
    call = converse(
        steps,
        stt=FakeSTT(stt_script(steps), final_latency=0.15, words_per_second=10),
        llm=FakeLLM(reply, first_token_latency=0.01),
        config=SessionConfig(policy=policy),
        turn=FakeTurnDetector(0.9, latency=0.05),
        tools=box,
    )
    (turn,) = call.session.turns
    assert turn.preemptive_dropped == 1 and turn.tool_calls == 1
    assert [c[-1].content for c in call.llm.calls][:2] == ["Oslo", "Oslo Bergen"]
    assert asked == ["Oslo Bergen"]  # the dropped answer's call never ran
