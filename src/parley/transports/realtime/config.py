"""A Realtime session's settings, in neither dialect's words, and what they mean for parley.

`RealtimeConfig` is what session.created / session.updated report (rendered per dialect by
`session_models`). Its turn detection is parley's turn-taking policy seen through the
Realtime API's server VAD: threshold -> vad_threshold, prefix_padding_ms, silence_duration_ms
-> min_silence_ms, create_response -> auto_respond, interrupt_response -> interrupt_on_speech.
Everything else in the policy (merge gap, backchannels, timeouts) stays as the server is
configured. `turn_detection` null means manual turns: the client commits and asks.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from parley.conversation.policy import TurnTakingPolicy
from parley.transports.realtime.formats import AudioFormat


class ServerVAD(BaseModel):
    model_config = ConfigDict(frozen=True)

    threshold: float
    prefix_padding_ms: int
    silence_duration_ms: int
    create_response: bool = True
    interrupt_response: bool = True


class Transcription(BaseModel):
    """Input transcription as the client asked for it. parley always transcribes with its
    own STT; this only switches the transcription events on (as the API does)."""

    model_config = ConfigDict(frozen=True)

    model: str | None = None
    language: str | None = None
    prompt: str | None = None


class RealtimeConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    instructions: str
    input_format: AudioFormat = "pcm16"
    output_format: AudioFormat = "pcm16"
    voice: str = "alloy"
    turn_detection: ServerVAD | None
    transcription: Transcription | None = None


def server_vad_of(policy: TurnTakingPolicy) -> ServerVAD:
    """The server VAD that describes a policy."""
    return ServerVAD(
        threshold=policy.vad_threshold,
        prefix_padding_ms=policy.prefix_padding_ms,
        silence_duration_ms=policy.min_silence_ms,
        create_response=policy.auto_respond,
        interrupt_response=policy.interrupt_on_speech,
    )


def policy_for(turn_detection: ServerVAD | None, base: TurnTakingPolicy) -> TurnTakingPolicy:
    """parley's policy for a Realtime turn detection; raises ValueError (pydantic's) when a
    value is outside the policy's bounds.

    Manual turns: nothing is answered or interrupted by itself, and a committed turn joins
    the history as soon as it is transcribed (no merge gap: the client decided it is over).
    """
    if turn_detection is None:
        changes: dict[str, object] = {
            "auto_respond": False,
            "interrupt_on_speech": False,
            "merge_gap_ms": 0,
        }
    else:
        changes = {
            "vad_threshold": turn_detection.threshold,
            "prefix_padding_ms": turn_detection.prefix_padding_ms,
            "min_silence_ms": turn_detection.silence_duration_ms,
            "auto_respond": turn_detection.create_response,
            "interrupt_on_speech": turn_detection.interrupt_response,
        }
    return TurnTakingPolicy.model_validate({**base.model_dump(), **changes})
