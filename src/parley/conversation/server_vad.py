"""The OpenAI Realtime API's server VAD, seen as parley's turn-taking policy.

Both sides of parley speak the Realtime API: the Realtime endpoint (a client sets its turn
detection) and the OpenAI Realtime provider (parley sets the server's). They share this one
mapping: threshold <-> vad_threshold, prefix_padding_ms <-> prefix_padding_ms,
silence_duration_ms <-> min_silence_ms, create_response <-> auto_respond,
interrupt_response <-> interrupt_on_speech. Everything else in the policy (merge gap,
backchannels, timeouts) is parley's own.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from parley.conversation.policy import TurnTakingPolicy


class ServerVAD(BaseModel):
    model_config = ConfigDict(frozen=True)

    threshold: float
    prefix_padding_ms: int
    silence_duration_ms: int
    create_response: bool = True
    interrupt_response: bool = True


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
