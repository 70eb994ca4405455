"""The FastAPI application: provider loading at startup, /health, and the transports' routes."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from parley import __version__
from parley.records.service import CallRecords
from parley.server.gc_pauses import freeze_startup_heap
from parley.server.node import WorkerReport, reporting_lifespan
from parley.server.providers import ProviderLoader
from parley.server.routes import browser, calls, realtime, sessions, twilio
from parley.server.sessions import SessionManager
from parley.server.state import ServerState
from parley.session.config import Providers
from parley.settings import Settings


class ProviderHealth(BaseModel):
    name: str
    state: Literal["pending", "loading", "ready", "failed"]
    load_seconds: float | None
    error: str | None


class ModelProcessHealth(BaseModel):
    """The child process running the embedded models (DESIGN.md invariant 12)."""

    state: Literal["stopped", "starting", "ready", "restarting", "failed"]
    pid: int | None
    restarts: int
    last_exit: str | None
    rss_bytes: int | None
    models: list[str]


class WorkerHealth(BaseModel):
    """One session process of the node (`parley serve --workers N`)."""

    pid: int
    sessions: int
    accepting: bool


class Health(BaseModel):
    status: Literal["ok", "loading", "failed"]
    version: str
    providers: dict[str, ProviderHealth]
    sessions: int  # the node's: every worker's
    model_process: ModelProcessHealth | None  # None: no embedded model in use
    accepting: bool  # a new call would get a session on some worker (admission control)
    workers: list[WorkerHealth]


def _freeze_when_loaded(loading: asyncio.Task[None]) -> None:
    if not loading.cancelled() and loading.exception() is None:
        freeze_startup_heap()


def create_app(settings: Settings | None = None, *, providers: Providers | None = None) -> FastAPI:
    """The app for `settings`; pass `providers` to skip loading (tests, embedding)."""
    settings = settings or Settings()
    state = ServerState(settings, ProviderLoader(settings, providers), SessionManager())
    if settings.records.enabled:
        state.records = CallRecords(
            settings.records,
            node=settings.cluster.node_name(),
            shared=settings.cluster.redis_url is not None,
            on_drop=state.metrics.records_dropped.inc,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading = asyncio.create_task(state.loader.load(), name="load providers")
        state.metrics.gc_pauses.install()
        if providers is None:  # loaded by name, as `parley serve` does: freeze what start-up
            loading.add_done_callback(_freeze_when_loaded)  # made (gc_pauses.py)
        lag = asyncio.create_task(state.metrics.lag.run(), name="event loop lag")
        if state.records is not None:
            await state.records.start()  # its own task: a database that is down delays nothing
        await state.cluster.start()  # its own tasks: a Redis that is down delays no call
        trimming = asyncio.create_task(state.trimmer.run(), name="heap trimmer")
        collecting = asyncio.create_task(state.collector.run(), name="garbage collector")
        try:
            yield
        finally:
            for task in (loading, lag, trimming, collecting):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await state.sessions.close_all(settings.session.close_deadline_s + 1.0)
            await state.cluster.aclose()  # after the calls: the list empties as they end
            if state.records is not None:
                await state.records.aclose()  # the calls' last writes, bounded
            await asyncio.to_thread(state.loader.close)  # stops the model process
            state.metrics.gc_pauses.uninstall()

    def worker_report() -> WorkerReport:
        live = len(state.sessions)
        state.metrics.sessions_active.set(live)  # kept current for the node's /metrics
        state.metrics.publish()
        return WorkerReport(os.getpid(), live, state.loader.ready and state.busy() is None)

    reporting = reporting_lifespan(lifespan, state.node, worker_report)  # node.py
    app = FastAPI(title="parley", version=__version__, lifespan=reporting)
    app.state.parley = state
    app.include_router(twilio.router)  # POST /twilio/voice, WS /twilio/media
    app.include_router(browser.router)  # the page, WS /ws
    app.include_router(realtime.router)  # WS /v1/realtime
    app.include_router(calls.router)  # /v1/calls: the call records
    app.include_router(sessions.router)  # /v1/sessions: live calls, on any node

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        state.metrics.sessions_active.set(len(state.sessions))
        return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health", response_model=Health)
    async def health() -> JSONResponse:
        loader = state.loader
        status: Literal["ok", "loading", "failed"] = (
            "ok" if loader.ready else "failed" if loader.failed else "loading"
        )
        host = state.model_host()
        model_process = None
        if host is not None:
            process = host.status()
            model_process = ModelProcessHealth(**asdict(process))
            if process.state == "failed":
                status = "failed"  # turns cannot be answered until it comes back
        workers = state.node.workers(worker_report())
        body = Health(
            status=status,
            version=__version__,
            providers={
                kind: ProviderHealth(
                    name=s.name, state=s.state, load_seconds=s.load_seconds, error=s.error
                )
                for kind, s in loader.status.items()
            },
            sessions=sum(w.sessions for w in workers),
            model_process=model_process,
            accepting=any(w.accepting for w in workers),
            workers=[WorkerHealth(**asdict(w)) for w in workers],
        )
        return JSONResponse(body.model_dump(), status_code=200 if status == "ok" else 503)

    @app.get("/health/ready")
    async def ready() -> JSONResponse:
        """For a load balancer: 200 while the node takes new calls, 503 when it would refuse
        them (loading, failed, or every worker at capacity), so calls go elsewhere."""
        workers = state.node.workers(worker_report())
        accepting = any(w.accepting for w in workers)
        reason = None if accepting else state.busy() or "providers not ready; see /health"
        body = {"accepting": accepting, "sessions": sum(w.sessions for w in workers),
                "reason": reason}  # fmt: skip
        return JSONResponse(body, status_code=200 if accepting else 503)

    return app
