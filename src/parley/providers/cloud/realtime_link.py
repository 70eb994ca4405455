"""One OpenAI Realtime session per parley session, shared by the four facets.

The link holds what the facets share: the connection in use (which is the STT facet's
stream: its iterator runs the socket), the server's VAD decisions for the VAD facet, the
person's audio items since the last response, and the responses in flight for the LLM and
TTS facets (realtime_responses.py). realtime_connection.py is the socket,
realtime_facets.py the facets, and docs/providers.md the design.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from parley.conversation.backchannel import words_of
from parley.providers.base import ProviderError, VADEventKind
from parley.providers.cloud.config import OpenAIRealtimeSettings
from parley.providers.cloud.realtime_responses import PROVIDER, Response, Responses
from parley.types import ChatMessage


@dataclass
class UserItem:
    id: str
    transcript: str | None = None


class RealtimeLink:
    """What the four facets of one call share, changed only through its methods.

    Its state is private (slots, read-only properties), so each change has one named place.
    All callers run on the session's event loop; the rule is about who changes what:
    - binding the VAD facet to the call (RealtimeVAD.for_session): use_server_vad
    - a connection opening (the STT facet's stream, made by the session's STT runner):
      connection_opened
    - the input path (the connection's push_audio and speech_ended, the VAD facet's
      process): audio_pushed, take_lost_end, take_vad_events
    - the socket (the connection's worker task): speech_started, speech_stopped,
      user_item_committed, user_item_transcribed, and the `responses` it answers
    - the responder (the LLM facet): request, and the `responses` the facets ask for
    `responses` (realtime_responses.Responses) keeps the same rule for its own state, and
    event_id numbers the client events of every connection (the connection's and its own).
    """

    __slots__ = (
        "_connections",
        "_events",
        "_instructions",
        "_lost_ends",
        "_needs_seed",
        "_pushed",
        "_responses",
        "_send",
        "_server_vad",
        "_settings",
        "_speaking",
        "_user_items",
        "_vad_events",
    )

    def __init__(self, settings: OpenAIRealtimeSettings) -> None:
        self._settings = settings
        self._server_vad = False  # the VAD facet is in use: the server's VAD decides
        self._connections = 0  # connections (STT facet streams) opened so far
        self._send: Callable[[dict[str, Any]], None] = self._not_connected
        # The server's VAD decisions, placed on the link's timeline: samples pushed to the
        # STT facet, over every connection. The VAD facet moves them onto its stream's own.
        self._pushed = 0
        self._vad_events: deque[tuple[VADEventKind, int]] = deque()
        self._speaking = False  # the server said speech started and has not said it stopped
        self._lost_ends = 0  # queued ENDs of lost connections: no words will answer them
        self._instructions: str | None = None
        self._needs_seed = False  # a new connection lacks the conversation so far
        self._user_items: list[UserItem] = []  # committed since the last response.create
        self._events = itertools.count(1)
        self._responses = Responses(self._forward, self.event_id)

    def _not_connected(self, event: dict[str, Any]) -> None:
        raise ProviderError(f"{PROVIDER}: no connection (the STT facet opens it)")

    def _forward(self, event: dict[str, Any]) -> None:
        self._send(event)  # to the connection in use now

    def event_id(self) -> str:
        return f"parley_{next(self._events)}"

    # --- what the facets read -------------------------------------------------------------

    @property
    def settings(self) -> OpenAIRealtimeSettings:
        return self._settings

    @property
    def server_vad(self) -> bool:
        """The server's VAD decides (the VAD facet is bound); else a local VAD's hints do."""
        return self._server_vad

    @property
    def connections(self) -> int:
        return self._connections

    @property
    def pushed(self) -> int:
        """Samples pushed to the STT facet so far, over every connection."""
        return self._pushed

    @property
    def speaking(self) -> bool:
        return self._speaking

    @property
    def instructions(self) -> str | None:
        return self._instructions

    @property
    def responses(self) -> Responses:
        return self._responses

    @property
    def by_server_id(self) -> Mapping[str, Response]:
        return self._responses.by_server_id

    @property
    def by_event_id(self) -> Mapping[str, Response]:
        return self._responses.by_event_id

    # --- binding and connections ----------------------------------------------------------

    def use_server_vad(self) -> None:
        """The call's VAD is the server's. Set when the VAD facet is bound to the call, before
        any stream exists: the connection's first session.update already carries it."""
        self._server_vad = True

    def connection_opened(self, send: Callable[[dict[str, Any]], None]) -> int:
        """A connection takes over: what the facets send goes to `send` from now on. Returns
        where its audio begins on the link's timeline. On a reconnection the responses in
        flight fail, and the conversation, which the server has lost, is seeded again."""
        base = self._pushed
        if self._connections:
            self._needs_seed = True
            self._responses.fail_all(ProviderError(f"{PROVIDER}: connection lost"))
            self._lose_speech(base)
        self._connections += 1
        self._send = send
        return base

    def _lose_speech(self, base: int) -> None:
        """The speech the lost connection was hearing ends at `base` (it will never end it),
        and every end of speech not yet decided is answered with no words: the lost
        connection will transcribe none of them."""
        if self._speaking:
            self._speaking = False
            self._vad_events.append((VADEventKind.END, base))
        self._lost_ends = sum(kind is VADEventKind.END for kind, _ in self._vad_events)

    # --- the input path -------------------------------------------------------------------

    def audio_pushed(self, samples: int) -> None:
        """The input path pushed `samples` to the STT facet (sent or not)."""
        self._pushed += samples

    def take_lost_end(self) -> bool:
        """Whether this end of speech is a lost connection's (no words will answer it);
        each such end is taken once."""
        if not self._lost_ends:
            return False
        self._lost_ends -= 1
        return True

    def take_vad_events(self) -> tuple[tuple[VADEventKind, int], ...]:
        """The server's decisions since the last call, at positions on the link's timeline."""
        events = tuple(self._vad_events)
        self._vad_events.clear()
        return events

    # --- the socket: the person's speech --------------------------------------------------

    def speech_started(self, position: int) -> None:
        self._speaking = True
        self._vad_events.append((VADEventKind.START, position))

    def speech_stopped(self, position: int) -> None:
        self._speaking = False
        self._vad_events.append((VADEventKind.END, position))

    def user_item_committed(self, item_id: str) -> None:
        self._user_items.append(UserItem(item_id))

    def user_item_transcribed(self, item_id: str, transcript: str) -> None:
        for item in self._user_items:
            if item.id == item_id:
                item.transcript = transcript

    # --- the responder: the conversation --------------------------------------------------

    def request(self, response: Response, messages: tuple[ChatMessage, ...]) -> None:
        """Bring the server's conversation in line with parley's history, then ask for the
        response."""
        if messages and messages[0].role == "system" and messages[0].content != self._instructions:
            self._instructions = messages[0].content
            session = {"type": "realtime", "instructions": self._instructions}
            self._send({"type": "session.update", "session": session})
        if self._needs_seed:
            self._seed(messages)
        else:
            self._forget_unanswered_words(messages)
        self._user_items = []
        self._responses.ask(response)

    def _forget_unanswered_words(self, messages: tuple[ChatMessage, ...]) -> None:
        """Delete the person's audio items that parley's history left out: backchannels
        and noise that resumed the agent rather than starting a turn. The last user message
        is the joined text of the items that make the turn, so they are matched from its end."""
        last = next((m.content for m in reversed(messages) if m.role == "user"), "")
        remaining = words_of(last)
        for item in reversed(self._user_items):
            if item.transcript is None:
                continue  # not transcribed yet: keep it
            words = words_of(item.transcript)
            if words and remaining[-len(words) :] == words:
                remaining = remaining[: -len(words)]
                continue
            self._send({"type": "conversation.item.delete", "item_id": item.id})

    def _seed(self, messages: tuple[ChatMessage, ...]) -> None:
        """On a new connection, the conversation so far goes in as text items (the audio of
        this connection's turns is replaced by their transcripts)."""
        self._needs_seed = False
        for item in self._user_items:
            self._send({"type": "conversation.item.delete", "item_id": item.id})
        for message in messages:
            if message.role == "system" or not message.content:
                continue
            kind = "input_text" if message.role == "user" else "output_text"
            self._send({"type": "conversation.item.create", "item": {
                "type": "message", "role": message.role,
                "content": [{"type": kind, "text": message.content}]}})  # fmt: skip
