"""`parley serve --workers N`: N session processes on one port, one model process for all.

One process runs one event loop on one core; a node with N cores runs N workers. The parent
binds the listening socket and hands it to each worker (spawned: nothing of the parent's
state is forked into them), so the kernel gives each new connection to whichever worker
accepts it first, and a worker's calls never wait on another's loop. The parent does no
request work itself; it owns what must be one per node:

- the model process (model_host/broker.py): workers connect to its Unix socket
  (`PARLEY_MODEL_SOCKET`), so the embedded models are loaded once, not once per worker;
- a temporary directory for prometheus-client's multiprocess mode (`PROMETHEUS_MULTIPROC_DIR`:
  /metrics from any worker is the node's) and for the workers' reports (node.py: /health);
- the workers' lives: one that dies is started again (after 0.5 s, doubling to 10 s while
  they keep dying within 30 s); its calls are lost with it, the others' go on.

A Twilio webhook answered by one worker and its media stream landing on another works: the
stream token is an HMAC of the Call SID, checked by whichever worker gets the stream.

SIGTERM or SIGINT to the parent: each worker gets SIGTERM and hangs up its calls as
`parley serve` does (serve.py), the parent waits for them (the session close bound, plus a
margin), stops the model process, removes the directory and exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from parley.logsafe import configure_logging
from parley.providers.local.model_host.broker import MODEL_SOCKET, ModelBroker
from parley.records.service import recover
from parley.server.node import NODE_DIR, NodeView
from parley.settings import Settings

log = logging.getLogger("parley.server")

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
RECOVERY_TIMEOUT_S = 10.0  # the records' recovery at start; past it the workers retry
MakeApp = Callable[[Settings], Any]  # a worker's app from the settings


def default_workers() -> int:
    """One worker per core this process may run on."""
    return max(1, len(os.sched_getaffinity(0)))


@dataclass
class _Slot:
    index: int
    process: BaseProcess | None = None
    started: float = 0.0
    failures: int = 0
    due: float = field(default=0.0)  # when to start it again after it died


class Node:
    """The parent of the workers: it binds, spawns, tends and stops them."""

    def __init__(
        self,
        settings: Settings,
        workers: int,
        *,
        verbose: bool = False,
        make_app: MakeApp | None = None,
    ) -> None:
        from parley.server.serve import uvicorn_config  # (it imports uvicorn: keep lazy)

        self.settings = _recover_records(settings)
        self.make_app = make_app  # picklable (a module's function, or a partial of one)
        self.verbose = verbose
        self.stopping = threading.Event()
        self._directory = Path(tempfile.mkdtemp(prefix="parley-node-"))
        self._socket = uvicorn_config(None, settings).bind_socket()
        self.port: int = self._socket.getsockname()[1]
        (self._directory / "metrics").mkdir()
        (self._directory / "node").mkdir()
        self._node = NodeView(str(self._directory / "node"))
        self._broker = ModelBroker(str(self._directory / "models.sock"))
        self._environment = {
            MULTIPROC_DIR: str(self._directory / "metrics"),
            NODE_DIR: str(self._directory / "node"),
            MODEL_SOCKET: self._broker.path,
        }
        self._slots = [_Slot(index) for index in range(workers)]
        self._context = multiprocessing.get_context("spawn")

    def run(self) -> int:
        """Start the workers, keep them running until `stop()`, then shut down; exit status."""
        try:
            for slot in self._slots:
                self._start(slot)
            while not self.stopping.wait(0.2):
                self._tend()
        finally:
            self._shutdown()
        return 0

    def stop(self, *_: object) -> None:
        self.stopping.set()

    def _start(self, slot: _Slot) -> None:
        saved = {name: os.environ.get(name) for name in self._environment}
        os.environ.update(self._environment)  # a spawned worker starts with these
        try:
            process = self._context.Process(
                target=_worker_main,
                args=(self.settings, self._socket, self.verbose, self.make_app),
                name=f"parley-worker-{slot.index}",
                daemon=False,
            )
            process.start()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        slot.process, slot.started = process, time.monotonic()
        log.info("worker %d started (pid %s)", slot.index, process.pid)

    def _tend(self) -> None:
        """Start again any worker that died."""
        now = time.monotonic()
        for slot in self._slots:
            process = slot.process
            if process is not None and process.is_alive():
                continue
            if process is not None:  # it just died: note it, plan the restart
                log.error("worker %d (pid %s) died (exit %s); starting it again", slot.index,
                          process.pid, process.exitcode)  # fmt: skip
                self._forget(process)
                slot.failures = 0 if now - slot.started >= 30 else slot.failures + 1
                slot.due = now + min(10.0, 0.5 * 2 ** max(0, slot.failures - 1))
                slot.process = None
            if now >= slot.due:
                self._start(slot)

    def _forget(self, process: BaseProcess) -> None:
        if process.pid is None:
            return
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(process.pid, self._environment[MULTIPROC_DIR])  # type: ignore[no-untyped-call]
        self._node.forget(process.pid)

    def _shutdown(self) -> None:
        processes = [s.process for s in self._slots if s.process is not None]
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)  # each hangs up its calls (serve.py)
        deadline = time.monotonic() + self.settings.session.close_deadline_s + 5.0
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker pid %s did not stop in time: killed", process.pid)
                process.kill()
                process.join(5)
        self._socket.close()
        self._broker.close()  # stops the model process
        shutil.rmtree(self._directory, ignore_errors=True)
        log.info("node stopped")


def run_node(
    settings: Settings, workers: int, *, verbose: bool = False, make_app: MakeApp | None = None
) -> int:
    """`parley serve --workers N` (N > 1): until SIGTERM or SIGINT, then exit status 0.
    `make_app` builds each worker's app (default: `create_app`; the benchmark server's adds
    its observers)."""
    node = Node(settings, workers, verbose=verbose, make_app=make_app)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, node.stop)
    log.info("parley node: %d workers on %s:%d", workers, settings.host, node.port)
    return node.run()


def _recover_records(settings: Settings) -> Settings:
    """Close the calls a killed node left open, here in the parent before any worker starts,
    and tell the workers not to: each would otherwise close its siblings' live calls. If the
    database cannot be reached now, the workers try when it can (docs/records.md)."""
    records = settings.records
    if not (records.enabled and records.recover_at_start):
        return settings
    cluster = settings.cluster
    own = cluster.node_name() if cluster.redis_url else None  # with other nodes: its own only
    try:
        asyncio.run(asyncio.wait_for(recover(records, own), RECOVERY_TIMEOUT_S))
    except Exception as exc:  # an unreachable database must not stop the node
        log.warning("call records: recovery at start failed (%s); workers will retry", exc)
        return settings
    workers_records = records.model_copy(update={"recover_at_start": False})
    return settings.model_copy(update={"records": workers_records})


def _worker_main(
    settings: Settings, sock: socket.socket, verbose: bool, make_app: MakeApp | None
) -> None:
    """One worker: the app, as `parley serve` runs it, on the parent's socket."""
    configure_logging(settings.log_format, level=logging.DEBUG if verbose else logging.INFO)
    from parley.server import create_app
    from parley.server.serve import ParleyServer, uvicorn_config

    parent = os.getppid()
    threading.Thread(target=_stop_when_orphaned, args=(parent,), daemon=True).start()
    app = (make_app or create_app)(settings)
    ParleyServer(uvicorn_config(app, settings), app.state.parley).run(sockets=[sock])


def _stop_when_orphaned(parent: int) -> None:
    """A worker whose parent died (killed, say) hangs up its calls and exits."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)
