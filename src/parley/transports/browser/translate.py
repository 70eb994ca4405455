"""Session events in the browser protocol's words (docs/protocol.md lists each one)."""

from __future__ import annotations

from parley.conversation.policy import TurnTakingPolicy
from parley.events import (
    AgentPaused,
    AgentResponseDone,
    AgentResponseStarted,
    AgentResumed,
    AgentTranscript,
    ErrorEvent,
    SessionEnded,
    SessionEvent,
    TurnMetrics,
    UserSpeechStarted,
    UserSpeechStopped,
    UserTranscript,
)
from parley.timing import STAGES, TurnTimings
from parley.transports.browser.messages import (
    AgentPausedMessage,
    AgentResponseDoneMessage,
    AgentResponseStartedMessage,
    AgentTranscriptMessage,
    ErrorMessage,
    PageVAD,
    PlaybackResume,
    ServerMessage,
    SessionEndedMessage,
    TurnMetricsMessage,
    UserSpeech,
    UserTranscriptMessage,
)


def to_wire(event: SessionEvent) -> list[ServerMessage]:
    """The messages that tell the page about `event`; none for what it has no use for."""
    match event:
        case UserSpeechStarted():
            return [UserSpeech(event="user_speech_started")]
        case UserSpeechStopped():
            return [UserSpeech(event="user_speech_stopped")]
        case UserTranscript(text, final):
            return [UserTranscriptMessage(text=text, final=final)]
        case AgentResponseStarted(response_id):
            return [AgentResponseStartedMessage(response_id=response_id)]
        case AgentTranscript(response_id, text):
            return [AgentTranscriptMessage(response_id=response_id, text=text, final=False)]
        case AgentPaused(response_id):
            return [AgentPausedMessage(response_id=response_id)]
        case AgentResumed(response_id):
            return [PlaybackResume(response_id=response_id)]
        case AgentResponseDone(response_id, text, status):
            return [
                AgentTranscriptMessage(response_id=response_id, text=text, final=True),
                AgentResponseDoneMessage(response_id=response_id, status=status),
            ]
        case TurnMetrics(timings):
            return [turn_metrics(timings)]
        case ErrorEvent(code, message):
            return [ErrorMessage(code=code, message=message)]
        case SessionEnded(reason):
            return [SessionEndedMessage(reason=reason)]
    return []  # AgentSpeaking (the page hears that), UserDtmf (no keypad here)


def turn_metrics(timings: TurnTimings) -> TurnMetricsMessage:
    """Stage times in ms after the end of the person's speech (or the commit, without one)."""
    origin = "speech_ended" if timings.speech_ended is not None else "committed"
    zero = timings.speech_ended if timings.speech_ended is not None else timings.committed
    stages: dict[str, float] = {}
    if zero is not None:
        for stage in STAGES:
            value = getattr(timings, stage)
            if value is not None:
                stages[stage] = round((value - zero) * 1000, 1)
    v2v = timings.voice_to_voice
    return TurnMetricsMessage(
        response_id=timings.response_id,
        status=timings.status,
        user_text=timings.user_text,
        origin=origin,
        voice_to_voice_ms=None if v2v is None else round(v2v * 1000, 1),
        stages_ms=stages,
        preemptive=timings.preemptive,
        preemptive_dropped=timings.preemptive_dropped,
        turn_verdict=timings.turn_verdict,
        tool_calls=timings.tool_calls,
        tool_ms=round(timings.tool_seconds * 1000, 1),
    )


def page_vad(policy: TurnTakingPolicy) -> PageVAD:
    """The turn-taking policy as the page's VAD options: one policy for both VADs."""
    return PageVAD(
        positive_speech_threshold=policy.vad_threshold,
        negative_speech_threshold=policy.vad_release_threshold,
        redemption_ms=policy.min_silence_ms,
        pre_speech_pad_ms=policy.prefix_padding_ms,
        min_speech_ms=policy.min_interruption_ms,
    )
