"""conversation.item.create and conversation.item.truncate.

A user text message joins the history as typed words, unanswered (`submit_text(respond=False)`).
A user audio message is transcribed like a manual turn: client-cut speech the STT hears, which
joins the history once transcribed. With server VAD on, the policy answers no turn until that
transcript is in, so the item is not answered by itself (as the API promises), then the VAD's
turns are answered again. Truncation maps the client's `audio_end_ms` onto the response
(`AssistantItem.offset_at`) and hands it to the session, which cuts the history (invariant 4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from parley.audio.frames import AudioFrame
from parley.session.port import ClientSpeechStarted, ClientUtterance, InboundItem
from parley.transports.realtime.client_events import CreateItem, TruncateItem
from parley.transports.realtime.config import policy_for
from parley.transports.realtime.context import Context
from parley.transports.realtime.formats import AudioPayloadError, decode_audio, join_audio
from parley.transports.realtime.items import UserItem
from parley.transports.realtime.narrator import Narrator
from parley.transports.realtime.server_events import (
    FunctionCallOutputItem,
    InputText,
    ItemDeleted,
    ItemEvent,
    ItemRetrieved,
    ItemTruncated,
    MessageItem,
    new_id,
)


class ItemRequests:
    def __init__(
        self,
        ctx: Context,
        narrator: Narrator,
        deliver: Callable[[Sequence[InboundItem]], None],
        max_audio_s: float,
    ) -> None:
        self.ctx = ctx
        self.narrator = narrator
        self._deliver = deliver
        self._max_audio_s = max_audio_s
        self._held_for: set[str] = set()  # audio items no turn is answered before

    @property
    def holding(self) -> bool:
        """An audio item is being transcribed: the policy answers nothing meanwhile."""
        return bool(self._held_for)

    def create(self, event: CreateItem) -> None:
        ctx, item = self.ctx, event.item
        if event.previous_item_id not in (None, ctx.items.last_item_id):
            ctx.error(
                "unsupported_value",
                "parley adds items at the end of the conversation "
                f"only; the last item is {ctx.items.last_item_id!r}.",
                "previous_item_id",
            )
            return
        if item.type == "function_call_output":
            self._function_output(event)
            return
        if item.type != "message":
            ctx.error(
                "unsupported_value",
                f"'{item.type}' items are not supported: send user messages, and "
                "function_call_output items for the model's function calls.",
                "item.type",
            )
            return
        if item.role is None:
            ctx.error(
                "missing_required_parameter",
                "Missing required parameter: 'item.role'.",
                "item.role",
            )
            return
        if item.role != "user":
            ctx.error(
                "unsupported_value",
                f"'{item.role}' messages are not supported: the "
                "history's system message is the session's instructions, and its "
                "assistant messages are what parley said.",
                "item.role",
            )
            return
        texts, audio = self._user_content(event)
        if texts is None or audio is None:
            return
        item_id = item.id or new_id("item")
        if texts:
            text = " ".join(texts)
            ctx.live().submit_text(text, respond=False)
            message = MessageItem(
                id=item_id,
                status="completed",
                role="user",
                content=[InputText(text=t) for t in texts],
            )
            previous = ctx.items.append(item_id)
            ctx.send(
                ItemEvent(type=ctx.dialect.item_added, previous_item_id=previous, item=message)
            )
            if not ctx.dialect.beta:
                ctx.send(
                    ItemEvent(
                        type="conversation.item.done", previous_item_id=previous, item=message
                    )
                )
            return
        joined = join_audio(audio)
        self.narrator.commit_user_item(
            UserItem(item_id, audio_s=joined.duration), from_buffer=False
        )
        if not ctx.manual_turns:  # the VAD's turns go on being answered; this item is not
            self._held_for.add(item_id)
            ctx.live().update_policy(policy_for(None, ctx.policy()))
        self._deliver([ClientSpeechStarted(), ClientUtterance(joined)])

    def retrieve(self, item_id: str) -> None:
        """The item as the client was last told of it (a user audio item with its
        transcript; no audio: parley keeps none)."""
        item = self.ctx.items.item(item_id)
        if item is None:
            self._no_item(item_id)
            return
        self.ctx.send(ItemRetrieved(item=item))

    def delete(self, item_id: str) -> None:
        """An assistant message leaves the history (the model forgets it said it). Other
        items cannot: parley's history joins a person's turns into one message, and keeps a
        function call with its output (the models require both or neither)."""
        ctx = self.ctx
        item = ctx.items.item(item_id)
        if item is None:
            self._no_item(item_id)
            return
        record = ctx.items.assistant_item(item_id)
        if record is None:
            ctx.error("unsupported_value", "parley can delete assistant messages only: its "
                      "history joins the person's turns and keeps function calls with their "
                      "outputs.", "item_id")  # fmt: skip
            return
        ctx.live().truncate_response(record.parley_id, float("-inf"))  # nothing of it heard
        ctx.items.forget(item_id)
        ctx.send(ItemDeleted(item_id=item_id))

    def _no_item(self, item_id: str) -> None:
        self.ctx.error("invalid_value", f"Item with item_id '{item_id[:64]}' does not exist.",
                       "item_id")  # fmt: skip

    def _function_output(self, event: CreateItem) -> None:
        """The client's result of a function call: it joins the history after the call."""
        ctx, item = self.ctx, event.item
        for name in ("call_id", "output"):
            if getattr(item, name) is None:
                missing = f"Missing required parameter: 'item.{name}'."
                ctx.error("missing_required_parameter", missing, f"item.{name}")
                return
        assert item.call_id is not None and item.output is not None
        if item.call_id not in ctx.items.call_ids:
            ctx.error("invalid_value", f"No function call with call_id "
                      f"{item.call_id[:64]!r} in the conversation.", "item.call_id")  # fmt: skip
            return
        ctx.live().add_tool_result(item.call_id, item.output)
        output = FunctionCallOutputItem(id=item.id or new_id("item"), call_id=item.call_id,
                                        output=item.output)  # fmt: skip
        previous = ctx.items.append(output.id)
        ctx.send(ItemEvent(type=ctx.dialect.item_added, previous_item_id=previous, item=output))
        if not ctx.dialect.beta:
            ctx.send(
                ItemEvent(type="conversation.item.done", previous_item_id=previous, item=output)
            )

    def _user_content(self, event: CreateItem) -> tuple[list[str] | None, list[AudioFrame] | None]:
        """The item's text parts or its audio parts (one kind only), or Nones after an error."""
        ctx = self.ctx
        texts: list[str] = []
        audio: list[AudioFrame] = []
        parts = event.item.content or []
        if not parts:
            ctx.error(
                "missing_required_parameter",
                "Missing required parameter: 'item.content'.",
                "item.content",
            )
            return None, None
        for index, part in enumerate(parts):
            where = f"item.content[{index}]"
            if part.type == "input_text" and part.text is not None:
                texts.append(part.text)
            elif part.type == "input_audio" and part.audio is not None:
                try:
                    audio.append(decode_audio(part.audio, ctx.config.input_format))
                except AudioPayloadError as exc:
                    ctx.error("invalid_value", f"Invalid '{where}.audio': {exc}.", f"{where}.audio")
                    return None, None
            elif part.type in ("input_text", "input_audio"):
                field = "text" if part.type == "input_text" else "audio"
                ctx.error(
                    "missing_required_parameter",
                    f"Missing required parameter: '{where}.{field}'.",
                    f"{where}.{field}",
                )
                return None, None
            else:
                ctx.error(
                    "unsupported_value",
                    f"'{part.type}' content is not supported in "
                    "user messages: send input_text or input_audio.",
                    f"{where}.type",
                )
                return None, None
        if texts and audio:
            ctx.error(
                "unsupported_value",
                "a message must be all text or all audio: send them as two items.",
                "item.content",
            )
            return None, None
        if sum(a.duration for a in audio) > self._max_audio_s:
            ctx.error(
                "invalid_value",
                f"the item's audio is longer than the {self._max_audio_s:g} s limit.",
                "item.content",
            )
            return None, None
        return texts, audio

    def transcribed(self, item: UserItem) -> None:
        """An audio item's transcript is in: server VAD's turns may be answered again."""
        if item.id in self._held_for:
            self._held_for.discard(item.id)
            if not self._held_for:
                self.ctx.live().update_policy(self.ctx.policy())

    def truncate(self, event: TruncateItem) -> None:
        ctx = self.ctx
        record = ctx.items.assistant_item(event.item_id)
        if record is None:
            what = (
                "only assistant messages can be truncated"
                if ctx.items.is_user_item(event.item_id)
                else "no such assistant item in this conversation"
            )
            ctx.error(
                "invalid_value", f"Invalid 'item_id' {event.item_id[:60]!r}: {what}.", "item_id"
            )
            return
        if event.content_index != 0:
            ctx.error(
                "invalid_value",
                "Invalid 'content_index': an assistant message has one content part, index 0.",
                "content_index",
            )
            return
        offset = record.offset_at(event.audio_end_ms)
        if offset is None:
            ctx.error(
                "invalid_value",
                f"Audio content of {record.written_ms:.0f}ms is already "
                f"shorter than {event.audio_end_ms}ms",
                "audio_end_ms",
            )
            return
        ctx.send(
            ItemTruncated(item_id=record.item_id, content_index=0, audio_end_ms=event.audio_end_ms)
        )
        if ctx.items.current is record:
            record.stopped_by_client = True
        ctx.live().truncate_response(record.parley_id, offset)
