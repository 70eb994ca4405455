"""The session's port: how a session meets the outside world (invariant 9).

It lives with the session, which consumes it; transports implement `Transport` and drive
their session only through `SessionControl`, so imports point down the layers.

A transport translates one protocol at the edge. Inbound, it decodes the wire into audio
frames and a few control items; outbound, it encodes agent audio, clears and events. The
session never knows which transport it runs on.

Outbound methods are synchronous and must not block: a transport queues and writes in its
own `serve` coroutine, which the session runs under its supervisor. So a slow network
never stalls the session, and a clear always goes out ahead of queued audio.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from parley.audio.frames import AudioFrame
from parley.conversation.policy import TurnTakingPolicy
from parley.events import SessionEvent
from parley.types import ToolSpec


@dataclass(frozen=True, slots=True)
class Hangup:
    """The other side ended the call."""

    reason: str = "caller hung up"


@dataclass(frozen=True, slots=True)
class PlaybackReport:
    """The listener has heard `played` seconds of the response (from marks or a client)."""

    response_id: str
    played: float


@dataclass(frozen=True, slots=True)
class ClientSpeechStarted:
    """The client's own VAD heard speech begin (for clients that run VAD themselves)."""


@dataclass(frozen=True, slots=True)
class ClientUtterance:
    """A whole utterance cut by the client's VAD; its end is the end of the speech."""

    audio: AudioFrame


@dataclass(frozen=True, slots=True)
class EndOfSpeech:
    """The client says the speech streamed so far has ended (a Realtime API commit while
    the server's VAD runs): the VAD starts afresh, ending speech in progress."""


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    """The caller pressed a key on the phone's keypad (0-9, *, #, A-D)."""

    digit: str


InboundItem = (
    AudioFrame
    | Hangup
    | PlaybackReport
    | ClientSpeechStarted
    | ClientUtterance
    | EndOfSpeech
    | DtmfDigit
)


@dataclass(frozen=True, slots=True)
class OutboundAudio:
    """A frame of agent speech. `offset` is its position in the response, in seconds."""

    response_id: str
    audio: AudioFrame
    offset: float


class Transport(ABC):
    output_sample_rate: int = 16000
    # True when the transport sends PlaybackReports: what was heard then comes from them
    # (Twilio marks, browser reports) rather than from the server's playhead model.
    reports_playback: bool = False

    @property
    def can_transfer(self) -> bool:
        """True when `transfer` can hand the call to another number (phone calls)."""
        return False

    @abstractmethod
    async def receive(self) -> InboundItem | None:
        """The next inbound item; None when the connection is gone."""

    @abstractmethod
    def send_audio(self, frame: OutboundAudio) -> None:
        """Queue a frame of agent audio for the listener."""

    @abstractmethod
    def clear_audio(self) -> None:
        """Drop every agent frame the listener has not heard yet, now."""

    @abstractmethod
    def send_event(self, event: SessionEvent) -> None:
        """Tell the other side about something, if its protocol can say it."""

    async def serve(self) -> None:  # noqa: B027 - transports without a writer need nothing
        """Background work (a socket writer); runs for the session's life, then is cancelled."""

    async def aclose(self) -> None:  # noqa: B027 - nothing to close by default
        """Close the connection; bounded by the session's close deadline."""

    async def transfer(self, target: str) -> None:
        """Hand the call to `target` (+E.164 or sip:); the media stream then ends."""
        raise NotImplementedError(f"{type(self).__name__} cannot transfer calls")


@runtime_checkable
class SessionControl(Protocol):
    """What a transport may ask of its session besides sending it audio; the session
    (parley.session.Session) implements it. Each call is queued for the session's task, so
    none blocks and none fails: a request the session cannot honour becomes an error event."""

    def submit_text(self, text: str, *, respond: bool = True) -> None:
        """A user message as text: answered now (interrupting the agent), or only recorded."""

    def request_response(self) -> None:
        """Answer the history as it stands (manual turns)."""

    def cancel_response(self) -> None:
        """Stop the response in flight, keeping what was heard."""

    def truncate_response(self, response_id: str, played: float) -> None:
        """The client heard only `played` seconds of that response: cut it there."""

    def update_instructions(self, instructions: str) -> None:
        """New system instructions from the next response on."""

    def update_policy(self, policy: TurnTakingPolicy) -> None:
        """New turn-taking settings from now on."""

    def set_client_tools(self, tools: Sequence[ToolSpec], tool_choice: str = "auto") -> None:
        """The client's own functions, offered to the model; their calls go to the client."""

    def add_tool_result(self, call_id: str, output: str) -> None:
        """The client's result of a function call the model made."""

    def set_text_only(self, text_only: bool) -> None:
        """Answer in text only from the next response on (no speech synthesized)."""

    def hangup(self, reason: str = "agent ended the call") -> None:
        """End the session from this side: audio stops now, closing follows."""
