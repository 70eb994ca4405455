"""The conversation as a Realtime client sees it: item ids, and what each item holds.

parley's history is the truth for the model; this ledger only keeps what the protocol needs:
the id of the last item (every new item names its predecessor), the user items still waiting
for their transcript, and for each assistant item the audio the client was actually sent.

That last part is what makes truncation exact. A client measures `audio_end_ms` along the
audio it received for the item; parley's positions are offsets into the response. They
differ when playback paused and resumed (the resumed audio starts at the paused playhead,
so a little audio is sent twice), so each written delta is recorded as a run mapping the
client's timeline onto the response's.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

from parley.transports.realtime.server_events import (
    FunctionCallItem,
    InputAudio,
    Item,
    MessageItem,
    Usage,
    new_id,
)

KEEP_ASSISTANT_ITEMS = 256  # truncatable items remembered (older ones answer "no such item")
KEEP_ITEMS = 1024  # items a client may retrieve (older ones answer "no such item")


@dataclass
class UserItem:
    id: str
    transcript: list[str] = field(default_factory=list)
    start_ms: int = 0
    audio_s: float = 0.0

    @property
    def text(self) -> str:
        return " ".join(t for t in self.transcript if t)


@dataclass
class AudioRun:
    """Client audio [start_ms, start_ms + duration_ms) is response audio from `offset` s."""

    start_ms: float
    offset: float
    duration_ms: float


@dataclass
class AssistantItem:
    parley_id: str
    response_id: str = field(default_factory=lambda: new_id("resp"))
    item_id: str = field(default_factory=lambda: new_id("item"))
    metadata: dict[str, str] | None = None
    segments: list[str] = field(default_factory=list)
    runs: list[AudioRun] = field(default_factory=list)
    written_ms: float = 0.0
    failure: tuple[str, str] | None = None  # (code, message) of an LLM or TTS failure
    stopped_by_client: bool = False  # response.cancel or conversation.item.truncate
    calls: list[FunctionCallItem] = field(default_factory=list)  # the client's to run
    usage: Usage | None = None  # the LLM's token counts (or their estimate)
    text_only: bool = False  # output_modalities ["text"]: text events, no audio

    def written(self, offset: float, duration: float) -> None:
        """A delta of `duration` s starting `offset` s into the response reached the client."""
        last = self.runs[-1] if self.runs else None
        if last is not None and abs(last.offset + last.duration_ms / 1000 - offset) < 1e-6:
            last.duration_ms += duration * 1000
        else:
            self.runs.append(AudioRun(self.written_ms, offset, duration * 1000))
        self.written_ms += duration * 1000

    def offset_at(self, audio_end_ms: float) -> float | None:
        """How far into the response the client got by its `audio_end_ms`: the furthest
        point it played (resumed audio repeats a little); None past what it was sent."""
        if audio_end_ms > self.written_ms + 0.5:  # half a ms of rounding in the client's sum
            return None
        reached = [
            run.offset + min(audio_end_ms - run.start_ms, run.duration_ms) / 1000
            for run in self.runs
            if run.start_ms <= audio_end_ms
        ]
        return max(reached, default=0.0)


class ItemLedger:
    def __init__(self) -> None:
        self.last_item_id: str | None = None
        self.open_user: UserItem | None = None  # speech started, not yet stopped (server VAD)
        self.pending: deque[UserItem] = deque()  # committed, transcript not complete
        self.current: AssistantItem | None = None  # the response in flight
        self._assistant: OrderedDict[str, AssistantItem] = OrderedDict()  # by parley id
        self._user_ids: set[str] = set()
        self.call_ids: OrderedDict[str, None] = OrderedDict()  # function calls, for outputs
        self._items: OrderedDict[str, Item] = OrderedDict()  # as last sent, for retrieve

    def append(self, item_id: str) -> str | None:
        """Add an item at the end; returns the id of the one before it."""
        previous, self.last_item_id = self.last_item_id, item_id
        return previous

    def open_user_item(self) -> UserItem:
        if self.open_user is None:
            self.open_user = UserItem(new_id("item"))
        return self.open_user

    def commit_user_item(self, item: UserItem | None = None) -> tuple[UserItem, str | None]:
        """The open item (or `item`) is committed: it now waits for its transcript."""
        if item is None:
            item, self.open_user = self.open_user or UserItem(new_id("item")), None
        self._user_ids.add(item.id)
        self.pending.append(item)
        return item, self.append(item.id)

    def transcript_target(self) -> UserItem | None:
        """The item a final transcript belongs to: STTs answer in order, so the oldest
        one still waiting, else the speech in progress."""
        return self.pending[0] if self.pending else self.open_user

    def is_user_item(self, item_id: str) -> bool:
        return item_id in self._user_ids

    def start_response(self, parley_id: str, metadata: dict[str, str] | None) -> AssistantItem:
        item = AssistantItem(parley_id, metadata=metadata)
        self._assistant[parley_id] = item
        while len(self._assistant) > KEEP_ASSISTANT_ITEMS:
            self._assistant.popitem(last=False)
        self.current = item
        return item

    def response(self, parley_id: str) -> AssistantItem | None:
        return self._assistant.get(parley_id)

    def assistant_item(self, item_id: str) -> AssistantItem | None:
        return next((a for a in self._assistant.values() if a.item_id == item_id), None)

    # --- items as the client last saw them (conversation.item.retrieve) ---------------------

    def remember(self, item: Item) -> None:
        self._items[item.id] = item
        self._items.move_to_end(item.id)
        while len(self._items) > KEEP_ITEMS:
            self._items.popitem(last=False)

    def transcribed(self, item_id: str, transcript: str) -> None:
        """A user audio item's transcript came (beta sends no item.done carrying it)."""
        item = self._items.get(item_id)
        if (
            isinstance(item, MessageItem)
            and item.content
            and isinstance(item.content[0], InputAudio)
        ):
            content = [InputAudio(transcript=transcript), *item.content[1:]]
            self._items[item_id] = item.model_copy(update={"content": content})

    def item(self, item_id: str) -> Item | None:
        return self._items.get(item_id)

    def forget(self, item_id: str) -> None:
        self._items.pop(item_id, None)
