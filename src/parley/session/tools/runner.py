"""Running a round of tool calls for a response: timeouts, errors, filler, history.

A round runs in its own supervised task, not the response's: if the person barges in while
a tool runs, the response is cancelled (nothing stale is spoken) but the tool finishes and
its call and result still join the history, so the model knows what was done. Every failure
(no such tool, malformed arguments, an exception, the timeout) becomes a result the model
reads, `{"error": "..."}`, and an error event: the call goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from parley import timing
from parley.conversation.inputs import ConversationInput, ToolCallsFinished, ToolCallsRequested
from parley.events import ErrorEvent, SessionEvent
from parley.session.recorder import TurnRecorder
from parley.session.supervisor import Supervisor
from parley.session.tools.model import ToolBox, ToolContext, ToolError
from parley.types import ChatMessage, ToolCall, ToolSpec

log = logging.getLogger("parley.tools")
MAX_RESULT_CHARS = 16_000  # a longer result is cut: it is read by the model on every turn


@dataclass(frozen=True, slots=True)
class ToolResult:
    call: ToolCall
    content: str  # what the model reads
    error: str | None
    seconds: float


class CallActions:
    """What the built-in tools ask of the session, per response (the session implements)."""

    def end_call_after(self, response_id: str, reason: str) -> None:
        raise ToolError("this session cannot end its call")

    def transfer_after(self, response_id: str, target: str) -> None:
        raise ToolError("this call cannot be transferred")


class ToolRunner:
    def __init__(
        self,
        box: ToolBox,
        supervisor: Supervisor,
        recorder: TurnRecorder,
        notify: Callable[[ConversationInput], None],
        emit: Callable[[SessionEvent], None],
        actions: CallActions,
    ) -> None:
        self.box = box
        self._supervisor = supervisor
        self._recorder = recorder
        self._notify = notify
        self._emit = emit
        self._actions = actions
        # A Realtime client's own functions: offered to the model, run by the client.
        self.client_tools: tuple[ToolSpec, ...] = ()
        self.tool_choice = "auto"

    @property
    def specs(self) -> tuple[ToolSpec, ...]:
        """What the model is offered: the server's tools, then the client's."""
        ours = self.box.specs
        names = {spec.name for spec in ours}
        return (*ours, *(spec for spec in self.client_tools if spec.name not in names))

    def for_client(self, calls: list[ToolCall]) -> list[ToolCall]:
        """The calls the client runs: of its tools, and not of the server's."""
        theirs = {spec.name for spec in self.client_tools} - set(self.box.tools)
        return [call for call in calls if call.name in theirs]

    def hand_over(self, response_id: str, calls: list[ToolCall]) -> None:
        """Give the client its calls: they join the history, and it is told."""
        self._notify(ToolCallsRequested(timing.now(), response_id, tuple(calls)))

    async def run(
        self, response_id: str, calls: list[ToolCall], say_filler: Callable[[str], None]
    ) -> tuple[ChatMessage, ...]:
        """Run the calls (together), saying the filler if they take long; the messages for
        the history: the assistant's calls, then one result per call."""
        task = self._supervisor.spawn(f"{response_id} tools", self._round(response_id, calls))
        wait = self.box.filler_after_s
        if wait is not None and self.box.filler:
            done, _ = await asyncio.wait({task}, timeout=wait)
            if not done:
                say_filler(self.box.filler)
        # Shielded: cancelling the response (barge-in) must not cancel the tools.
        return await asyncio.shield(task)

    async def _round(self, response_id: str, calls: list[ToolCall]) -> tuple[ChatMessage, ...]:
        started = timing.now()
        results = await asyncio.gather(*(self._call(response_id, c) for c in calls))
        self._recorder.add_tool_time(response_id, timing.now() - started, len(calls))
        messages = (
            ChatMessage("assistant", "", tool_calls=tuple(calls)),
            *(ChatMessage("tool", r.content, tool_call_id=r.call.id) for r in results),
        )
        for result in results:
            if result.error is not None:
                self._emit(ErrorEvent("tool_failed", f"{result.call.name}: {result.error}"))
        self._notify(ToolCallsFinished(timing.now(), response_id, messages))
        return messages

    async def _call(self, response_id: str, call: ToolCall) -> ToolResult:
        started = timing.now()
        tool = self.box.tools.get(call.name)
        timeout = (tool.timeout_s if tool else None) or self.box.timeout_s
        context = ToolContext(
            response_id,
            call.id,
            lambda reason: self._actions.end_call_after(response_id, reason),
            lambda target: self._actions.transfer_after(response_id, target),
        )
        error: str | None = None
        value: Any = None
        try:
            if tool is None:
                raise ToolError(f"there is no tool named {call.name[:64]!r}")
            arguments = _arguments(call.arguments)
            value = await asyncio.wait_for(tool.handler(arguments, context), timeout)
        except TimeoutError:
            error = f"no result within {timeout:g} s"
        except ToolError as exc:
            error = str(exc)
        except Exception as exc:
            log.warning("tool %s raised", call.name, exc_info=True)
            error = f"it failed: {type(exc).__name__}: {exc}"
        seconds = timing.now() - started
        if error is not None:
            return ToolResult(call, json.dumps({"error": error[:1000]}), error, seconds)
        content = value if isinstance(value, str) else json.dumps(value, default=str)
        return ToolResult(call, content[:MAX_RESULT_CHARS], None, seconds)


def _arguments(text: str) -> dict[str, Any]:
    """The model's JSON arguments: an object (empty text counts as none)."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise ToolError("the arguments are not valid JSON") from None
    if not isinstance(value, dict):
        raise ToolError("the arguments must be a JSON object")
    return value
