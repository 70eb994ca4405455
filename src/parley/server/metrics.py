"""Prometheus metrics for the server: sessions, turns, latencies, errors, and its health.

Each app has its own registry (so tests and embedded apps never collide), filled by an
observer every session gets. The observer only reads session events and timing records;
it never touches the audio path. The process's memory, open fds and CPU (the standard
`process_*` metrics), its asyncio tasks and the event loop's lag are there too, for soak
runs and dashboards: a leak shows as a line that keeps climbing after the calls end.
With `parley serve --workers N` the workers write their numbers to PROMETHEUS_MULTIPROC_DIR
(the parent makes and removes it) and any of them answers /metrics for the whole node
(prometheus-client's multiprocess mode; the `process_*` metrics are then left out).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from parley.events import AgentResponseDone, AgentResumed, ErrorEvent, SessionEvent, TurnMetrics
from parley.providers.local.model_host.client import ModelHost
from parley.server.gc_pauses import GCPauses
from parley.server.memory import HeapTrimmer

_MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"  # set by `parley serve --workers N` (workers.py)

# Voice-to-voice lives between a few hundred ms and a few seconds.
_V2V_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0)


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.sessions_active = Gauge(
            "parley_sessions_active", "Sessions running now.", registry=self.registry,
            multiprocess_mode="livesum",
        )  # fmt: skip
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
        self.turn_verdicts = Counter(
            "parley_turn_detector_verdicts",
            "Turns ended with a turn detector, by its last answer (failed, asked: none in "
            "time, so the silence policy decided).",
            ["verdict"],
            registry=self.registry,
        )
        self.preemptive = Counter(
            "parley_preemptive_responses",
            "Preemptive answers, by whether they were used or dropped unheard.",
            ["outcome"],
            registry=self.registry,
        )
        self.errors = Counter(
            "parley_errors", "Error events sent to clients, by code.", ["code"],
            registry=self.registry,
        )  # fmt: skip
        self.records_dropped = Counter(
            "parley_records_dropped",
            "Call-record writes dropped: the queue was full (a slow or unreachable database) "
            "or the database refused them (docs/records.md).",
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, _open_fds...
        self.tasks = Gauge(
            "parley_asyncio_tasks", "asyncio tasks alive in the server's loop.",
            registry=self.registry, multiprocess_mode="livesum",
        )  # fmt: skip
        self.loop_lag = Gauge(
            "parley_event_loop_lag_seconds",
            "The longest the event loop was late to wake a timer since the last scrape.",
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.lag = LoopLag()
        self.gc_pauses = GCPauses(self.registry)
        self._model_process: _ModelProcessCollector | None = None

    def watch_model_process(self, host: Callable[[], ModelHost | None]) -> None:
        """Report the model process (restarts, up, memory), read at each scrape."""
        self._model_process = _ModelProcessCollector(host)
        self.registry.register(self._model_process)

    def watch_trimmer(self, trimmer: HeapTrimmer) -> None:
        """Report the heap trimmer (memory.py): how often, how long, how much came back."""
        self.registry.register(_TrimmerCollector(trimmer))

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
                if timings.turn_verdict is not None:
                    self.turn_verdicts.labels(timings.turn_verdict).inc()
                if timings.preemptive:
                    self.preemptive.labels("used").inc()
                if timings.preemptive_dropped:
                    self.preemptive.labels("dropped").inc(timings.preemptive_dropped)

    def publish(self) -> None:
        """With `--workers` (multiprocess mode), called every 0.2 s by each worker: its tasks,
        and the worst lag of its last half second, for whichever worker answers a scrape."""
        if _MULTIPROCESS in os.environ:
            self.tasks.set(len(asyncio.all_tasks()))
            self.loop_lag.set(self.lag.recent_worst())

    def render(self) -> bytes:
        if _MULTIPROCESS not in os.environ:
            with contextlib.suppress(RuntimeError):  # no loop running: a test reading it
                self.tasks.set(len(asyncio.all_tasks()))
            self.loop_lag.set(self.lag.take())
            return generate_latest(self.registry)
        # `parley serve --workers N`: every worker's counts, summed (gauges: live workers'
        # sum, or their max for the lag); the model process is the node's one.
        node = CollectorRegistry()
        MultiProcessCollector(node)  # type: ignore[no-untyped-call]
        if self._model_process is not None:
            node.register(self._model_process)
        return generate_latest(node)


class LoopLag:
    """How late the event loop wakes a timer: a loop held up by one slow step (a parse, a
    log line) delays every call's audio by as much."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self._worst = 0.0
        self._recent: deque[float] = deque(maxlen=5)  # the last half second's samples
        self._over = False

    def recent_worst(self) -> float:
        """The worst lag of the last half second."""
        return max(self._recent, default=0.0)

    def overloaded(self, bound: float) -> bool:
        """For admission control: true once every sample of the last half second was past
        `bound` (overload, not one slow step), and until every one of them is within it."""
        if len(self._recent) == self._recent.maxlen:
            recent = max(self._recent) if self._over else min(self._recent)
            self._over = recent > bound
        return self._over

    def take(self) -> float:
        """The worst lag (s) since the last take."""
        worst, self._worst = self._worst, 0.0
        return worst

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            lag = loop.time() - due
            self._worst = max(self._worst, lag)
            self._recent.append(lag)


class _ModelProcessCollector(Collector):
    """The model process's numbers live in its host, not in this registry: read them when
    scraped (the Prometheus way for counts kept elsewhere)."""

    def __init__(self, host: Callable[[], ModelHost | None]) -> None:
        self._host = host

    def collect(self) -> Iterator[Metric]:
        host = self._host()
        status = host.status() if host is not None else None
        restarts = CounterMetricFamily(
            "parley_model_process_restarts",
            "Times the embedded models' process was restarted after it died.",
            value=status.restarts if status else 0,
        )
        up = GaugeMetricFamily(
            "parley_model_process_up",
            "1 while the embedded models' process is running with its models loaded.",
            value=1 if status is not None and status.state == "ready" else 0,
        )
        rss = GaugeMetricFamily(
            "parley_model_process_resident_bytes",
            "Resident memory of the embedded models' process.",
            value=(status.rss_bytes or 0) if status else 0,
        )
        yield from (restarts, up, rss)

    def describe(self) -> Iterator[Metric]:
        return iter(())


class _TrimmerCollector(Collector):
    """The heap trimmer's counts, read when scraped."""

    def __init__(self, trimmer: HeapTrimmer) -> None:
        self._trimmer = trimmer

    def collect(self) -> Iterator[Metric]:
        t = self._trimmer
        yield CounterMetricFamily(
            "parley_memory_trims", "Times freed heap memory was given back (malloc_trim).",
            value=t.trims,
        )  # fmt: skip
        yield CounterMetricFamily(
            "parley_memory_trim_released_bytes",
            "Resident memory given back to the OS by heap trims.",
            value=t.released_bytes,
        )
        yield GaugeMetricFamily(
            "parley_memory_trim_seconds",
            "The longest a heap trim has held the event loop.",
            value=t.longest_s,
        )

    def describe(self) -> Iterator[Metric]:
        return iter(())
