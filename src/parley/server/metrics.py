"""Prometheus metrics for the server: sessions, turns, latencies, errors.

Each app has its own registry (so tests and embedded apps never collide), filled by an
observer every session gets. The observer only reads session events and timing records;
it never touches the audio path.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from parley.events import AgentResponseDone, AgentResumed, ErrorEvent, SessionEvent, TurnMetrics

# Voice-to-voice lives between a few hundred ms and a few seconds.
_V2V_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0)


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.sessions_active = Gauge(
            "parley_sessions_active", "Sessions running now.", registry=self.registry
        )
        self.sessions = Counter(
            "parley_sessions", "Sessions started.", ["transport"], registry=self.registry
        )
        self.responses = Counter(
            "parley_responses", "Agent responses, by how they ended.", ["status"],
            registry=self.registry,
        )  # fmt: skip
        self.voice_to_voice = Histogram(
            "parley_voice_to_voice_seconds",
            "End of the person's speech to the first agent audio sent.",
            buckets=_V2V_BUCKETS,
            registry=self.registry,
        )
        self.resumes = Counter(
            "parley_agent_resumes",
            "Times the agent paused for speech that was a backchannel or noise, then went on.",
            registry=self.registry,
        )
        self.errors = Counter(
            "parley_errors", "Error events sent to clients, by code.", ["code"],
            registry=self.registry,
        )  # fmt: skip

    def observe(self, event: SessionEvent) -> None:
        match event:
            case AgentResponseDone(status=status):
                self.responses.labels(status).inc()
            case AgentResumed():
                self.resumes.inc()
            case ErrorEvent(code=code):
                self.errors.labels(code).inc()
            case TurnMetrics(timings=timings):
                if timings.voice_to_voice is not None:
                    self.voice_to_voice.observe(timings.voice_to_voice)

    def render(self) -> bytes:
        return generate_latest(self.registry)
