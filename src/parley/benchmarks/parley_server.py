"""parley's benchmark server: `parley serve`, instrumented from the outside.

    python -m parley.benchmarks.parley_server SPEC.json

It builds the app exactly as `parley serve` does (`create_app`, providers loaded by name, the
same uvicorn options) and adds only observers: a session manager that notes when each call's
session has fully closed, and the fake STT's record of when the call's frames reached it (a
per-call view of the fake STT, so concurrent calls' frames are not mixed).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import sys
from pathlib import Path

from fastapi import FastAPI

from parley.benchmarks.events import EventLog
from parley.benchmarks.spec import ServerSpec
from parley.events import SessionEvent, TurnMetrics
from parley.logsafe import configure_logging
from parley.server import create_app
from parley.server.routes.twilio import TwilioCalls, twilio_calls
from parley.server.serve import run
from parley.server.sessions import SessionManager
from parley.server.state import ServerState
from parley.server.workers import run_node
from parley.session import Session
from parley.settings import Settings
from parley.testing.fakes import FakeSTT
from parley.timing import STAGES
from parley.transports.twilio.messages import StreamStart


class RecordingSessions(SessionManager):
    """The server's session manager, writing when each call started and fully closed."""

    def __init__(self, state: ServerState, log: EventLog) -> None:
        super().__init__()
        self._state = state
        self._log = log

    async def run(self, session: Session) -> None:
        stt = session.providers.stt
        mine = stt.per_call() if isinstance(stt, FakeSTT) else None
        if mine is not None:
            session.providers = dataclasses.replace(session.providers, stt=mine)
        call_sid = session.id.removeprefix("twilio-")
        self._log.write("call_started", call_sid=call_sid)
        try:
            await super().run(session)
        finally:
            self._log.write(
                "call_closed",
                call_sid=call_sid,
                stt_max_gap=None if mine is None else mine.arrival_log.max_gap,
                stt_frames=0 if mine is None else mine.arrival_log.frames,
                abandoned=len(session.supervisor.abandoned),
            )


def instrument(state: ServerState, calls: TwilioCalls, log: EventLog) -> None:
    state.sessions = RecordingSessions(state, log)

    def started(call: StreamStart, session: Session) -> None:
        def observe(event: SessionEvent) -> None:
            if isinstance(event, TurnMetrics):
                log.write("turn", call_sid=call.call_sid, timings=_relative(event))

        session.observers.append(observe)

    calls.on_call_started.append(started)


def _relative(metrics: TurnMetrics) -> dict[str, float | None]:
    """A turn's stages in seconds after the end of the person's speech (loop clocks differ
    between processes; durations do not)."""
    turn = metrics.timings
    origin = turn.speech_ended
    stages: dict[str, float | None] = {"voice_to_voice": turn.voice_to_voice}
    for stage in STAGES:
        value = getattr(turn, stage)
        stages[stage] = None if value is None or origin is None else value - origin
    return stages


def instrumented_app(spec: ServerSpec, settings: Settings) -> FastAPI:
    """The app `parley serve` builds, with the benchmark's observers (each worker's own)."""
    app = create_app(settings)
    state: ServerState = app.state.parley
    instrument(state, twilio_calls(app), EventLog(spec.events))
    return app


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    spec = ServerSpec.model_validate_json(Path(args[0]).read_text())
    configure_logging("text", level=logging.getLevelNamesMapping()[spec.log_level.upper()])
    settings = spec.parley_settings()
    if spec.workers > 1:  # as `parley serve --workers N`: the events file is shared
        run_node(settings, spec.workers, make_app=functools.partial(instrumented_app, spec))
        return
    run(instrumented_app(spec, settings), settings)


if __name__ == "__main__":
    main()
