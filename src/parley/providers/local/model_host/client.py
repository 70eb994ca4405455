"""The session side of the model process: start it, talk to it, restart it when it dies.

One `ModelHost` owns one child process at a time and a thread that reads its channel. Calls
come from any thread or event loop: a request is written straight onto the socket, and the
reader thread hands each result to the caller's loop with call_soon_threadsafe (as the old
in-process worker threads did), so one host serves every session, the test suite's many
event loops, and the loader's worker thread alike.

When the child dies, every call in flight fails with a ProviderError naming how, and the
child is started again after a back-off (0.5 s doubling to 10 s, reset once a child has
stayed up 30 s), loading the same models. Calls made meanwhile wait for it, bounded.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from parley.providers.base import ProviderError
from parley.providers.local.model_host.wire import (
    ChannelBackedUpError,
    ChannelClosedError,
    Header,
    QueuedWriter,
    read_frame,
)

State = Literal["stopped", "starting", "ready", "restarting", "failed"]
Sink = Callable[[str, Header, bytes], None]  # ("item" | "done" | "error", header, payload)

_CHILD_MODULE = "parley.providers.local.model_host.child"


@dataclass(frozen=True, slots=True)
class ModelProcessStatus:
    state: State
    pid: int | None
    restarts: int
    last_exit: str | None
    rss_bytes: int | None
    models: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Spec:
    id: int
    engine: str
    options: Header


class ModelHost:
    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        ready_timeout: float = 30.0,
        load_timeout: float = 300.0,
        backoff: tuple[float, float] = (0.5, 10.0),
        stable_after: float = 30.0,
        connect: str | None = None,
    ) -> None:
        self._env = dict(env or {})
        # A broker's socket (broker.py): the node's one model process, owned by the parent of
        # `parley serve --workers N`; this host then connects there instead of starting one.
        self._connect = connect
        self._remote: ModelProcessStatus | None = None  # the broker's, polled every second
        self.ready_timeout = ready_timeout
        self._load_timeout = load_timeout
        self._backoff = backoff
        self._stable_after = stable_after
        self._cv = threading.Condition()  # guards everything below
        self._state: State = "stopped"
        self._closing = False
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._writer: QueuedWriter | None = None
        self._specs: dict[int, _Spec] = {}
        self._loaded: dict[int, Header] = {}  # in the current child: model id -> its info
        self._load_errors: dict[int, str] = {}
        self._startup: set[int] = set()  # loads the current child must finish to be ready
        self._jobs: dict[int, Sink] = {}
        self._ids = itertools.count(1)
        self.restarts = 0
        self.last_exit: str | None = None

    # --- models ------------------------------------------------------------------------------

    def load(self, engine: str, options: Header) -> tuple[int, Header]:
        """Load a model in the child (starting it if need be); blocks until it is ready.
        Returns the model's id and what the model told about itself."""
        with self._cv:
            if self._closing:
                raise ProviderError("the model process is shutting down")
            spec = _Spec(next(self._ids), engine, options)
            self._specs[spec.id] = spec
            if self._thread is None:
                self._state = "starting"
                self._thread = threading.Thread(
                    target=self._live, name="parley-model-process", daemon=True
                )
                self._thread.start()
            elif self._writer is not None:  # the child is up: it did not have this one yet
                self._send_load(spec)
            self._cv.wait_for(
                lambda: (
                    spec.id in self._loaded
                    or spec.id in self._load_errors
                    or self._state in ("failed", "stopped")
                ),
                timeout=self._load_timeout,
            )
            if spec.id in self._loaded:
                return spec.id, self._loaded[spec.id]
            del self._specs[spec.id]
            error = self._load_errors.pop(spec.id, None) or self._not_ready_reason()
        self.unload(spec.id)
        raise ProviderError(f"{engine} did not load in the model process: {error}")

    def unload(self, model: int) -> None:
        """Forget a model; the child stops when it holds none."""
        with self._cv:
            self._specs.pop(model, None)
            self._loaded.pop(model, None)
            self._send_quietly({"op": "unload", "model": model})
            empty = not self._specs
        if empty:
            self.close()

    def is_loaded(self, model: int) -> bool:
        return model in self._loaded

    def wait_loaded(self, model: int) -> None:
        """Wait (bounded) until the model is loaded in a running child: after a crash, until
        the restarted child has loaded it again."""
        with self._cv:
            self._cv.wait_for(
                lambda: model in self._loaded or self._state in ("failed", "stopped"),
                timeout=self.ready_timeout,
            )
            if model not in self._loaded:
                raise ProviderError(self._not_ready_reason())

    def _not_ready_reason(self) -> str:
        if self._state == "stopped":
            return "the model process is stopped"
        if self._state == "failed":
            return f"the model process keeps failing (last: {self.last_exit})"
        return f"the model process is not ready (state {self._state}, last: {self.last_exit})"

    # --- calls -------------------------------------------------------------------------------

    def submit(self, model: int, request: Header, payload: bytes, sink: Sink) -> int:
        """Send a request; `sink` gets its items, then "done" or "error", on the reader thread."""
        with self._cv:
            writer = self._writer
            if writer is None or model not in self._loaded:
                raise ProviderError(self._not_ready_reason())
            job = next(self._ids)
            self._jobs[job] = sink
        try:
            writer.send({"op": "run", "job": job, "model": model, "request": request}, payload)
        except (ChannelClosedError, ChannelBackedUpError) as exc:
            with self._cv:
                self._jobs.pop(job, None)
            closed = isinstance(exc, ChannelClosedError)
            why = "channel closed" if closed else "is not reading its requests"
            raise ProviderError(f"the model process {why} ({exc})") from exc
        return job

    def cancel(self, job: int) -> None:
        """Stop a request: skipped if still queued, stopped at its next item if running."""
        with self._cv:
            if self._jobs.pop(job, None) is not None:
                self._send_quietly({"op": "cancel", "job": job})

    # --- status and shutdown -------------------------------------------------------------------

    def status(self) -> ModelProcessStatus:
        with self._cv:
            process = self._process
            pid = process.pid if process is not None and process.poll() is None else None
            models = tuple(self._specs[m].engine for m in self._specs)
            remote = self._remote
            if self._connect is not None and remote is not None and self._writer is not None:
                state = remote.state if self._state == "ready" else self._state
                return ModelProcessStatus(state, remote.pid, remote.restarts, remote.last_exit,
                                          remote.rss_bytes, models)  # fmt: skip
            return ModelProcessStatus(
                self._state, pid, self.restarts, self.last_exit, _rss(pid), models
            )

    def close(self, timeout: float = 5.0) -> None:
        """Stop the child: ask it, then kill it if it has not gone within `timeout`."""
        with self._cv:
            thread, process = self._thread, self._process
            if thread is None or self._closing:
                return
            self._closing = True
            self._send_quietly({"op": "shutdown"})
            self._cv.notify_all()
        if thread is threading.current_thread():
            return  # called from a result callback: the reader finishes the job itself
        thread.join(timeout)
        if thread.is_alive() and process is not None:
            process.kill()
            thread.join(timeout)

    # --- the reader thread -------------------------------------------------------------------

    def _live(self) -> None:
        """Run the child, read its channel, and start it again when it dies."""
        failures = 0
        while True:
            started = time.monotonic()
            reason = self._run_child()
            with self._cv:
                if self._writer is not None:
                    self._writer.close()
                self._writer, self._process = None, None
                self._loaded.clear()
                self._startup.clear()
                if self._closing:
                    self._fail_jobs("the model process stopped")
                    self._state, self._thread, self._closing = "stopped", None, False
                    self._cv.notify_all()
                    return
                self.last_exit = reason
                self._fail_jobs(f"model process {reason}; restarting")
                failures = 0 if time.monotonic() - started >= self._stable_after else failures + 1
                self._state = "failed" if failures >= 3 else "restarting"
                self._cv.notify_all()
                base, longest = self._backoff
                delay = min(longest, base * 2 ** max(0, failures - 1))
                if self._cv.wait_for(lambda: self._closing, timeout=delay):
                    continue  # closing: the next pass ends at once (no child to run)
                self.restarts += 1

    def _run_child(self) -> str:
        """Start a child and serve its channel until it closes; how the child ended."""
        with self._cv:
            if self._closing:
                return "not started (closing)"
        if self._connect is not None:
            return self._run_remote(self._connect)
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", _CHILD_MODULE, str(child.fileno()), str(os.getpid())],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=sys.__stderr__.fileno() if sys.__stderr__ else subprocess.DEVNULL,
                env=_child_environment(self._env),
            )
        except OSError as exc:
            parent.close()
            return f"could not start ({exc})"
        finally:
            child.close()
        try:
            self._serve(parent, process)
        finally:
            parent.close()
        try:
            code = process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # it closed the channel but lives on: end it
            process.kill()
            code = process.wait()
        return _describe(code)

    def _serve(self, channel: socket.socket, process: subprocess.Popen[bytes] | None) -> None:
        """Load the models over a fresh channel, then read it until it closes."""
        with self._cv:
            self._process, self._writer = process, QueuedWriter(channel)
            self._startup = set(self._specs)
            for spec in self._specs.values():
                self._send_load(spec)
            if not self._startup:
                self._state = "ready"
        reader = channel.makefile("rb")
        try:
            while True:
                self._dispatch(*read_frame(reader))
        except (ChannelClosedError, OSError, ValueError):
            pass

    def _run_remote(self, path: str) -> str:
        """Serve a connection to the node's broker until it closes; how it ended."""
        channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            channel.connect(path)
        except OSError as exc:
            channel.close()
            return f"could not connect to the node's model process ({exc})"
        poll = threading.Thread(target=self._poll_status, args=(channel,), daemon=True,
                                name="parley-model-status")  # fmt: skip
        poll.start()
        try:
            self._serve(channel, None)
        finally:
            channel.close()
        return "connection to the node's model process closed"

    def _poll_status(self, channel: socket.socket) -> None:
        """Ask the broker for the model process's status every second (for /health)."""

        def got(kind: str, header: Header, _: bytes) -> None:
            status = header.get("status")
            if kind == "done" and isinstance(status, dict):
                status["models"] = tuple(status.get("models", ()))
                with self._cv:
                    self._remote = ModelProcessStatus(**status)

        with self._cv:
            while not self._closing and channel.fileno() != -1:
                if self._writer is None:  # not serving this channel yet
                    self._cv.wait(0.05)
                    continue
                job = next(self._ids)
                self._jobs[job] = got
                self._send_quietly({"op": "status", "job": job})
                self._cv.wait(1.0)

    def _dispatch(self, header: Header, payload: bytes) -> None:
        job = int(header.get("job", 0))
        final = "item" not in header
        with self._cv:
            sink = self._jobs.pop(job, None) if final else self._jobs.get(job)
        if sink is None:
            return  # cancelled: its late results are dropped
        if not final:
            sink("item", header["item"], payload)
        else:
            sink("done" if header.get("done") else "error", header, payload)

    def _send_load(self, spec: _Spec) -> None:
        job = next(self._ids)

        def loaded(kind: str, header: Header, _: bytes) -> None:
            if header.get("lost"):
                return  # the child died while loading: the next child loads it again
            with self._cv:
                if kind == "done":
                    self._loaded[spec.id] = dict(header.get("info", {}))
                else:
                    self._load_errors[spec.id] = str(header.get("error"))
                self._startup.discard(spec.id)
                if not self._startup and self._writer is not None:
                    self._state = "ready"
                self._cv.notify_all()

        self._jobs[job] = loaded
        header = {"op": "load", "job": job, "model": spec.id, "engine": spec.engine}
        self._send_quietly({**header, "options": spec.options})

    def _send_quietly(self, header: Header) -> None:
        """Send if the channel is open; a closed one is noticed by the reader thread."""
        if self._writer is not None:
            with contextlib.suppress(ChannelClosedError, ChannelBackedUpError):
                self._writer.send(header)

    def _fail_jobs(self, message: str) -> None:
        jobs, self._jobs = self._jobs, {}
        for sink in jobs.values():
            sink("error", {"error": message, "lost": True}, b"")


def _child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The child's environment. llama.cpp's OpenMP threads spin-wait between steps (libgomp:
    300,000 spins, then sleep). Measured on 2 cores (SmolLM2, tokens/s generated, quiet /
    both cores busy with other work): default 107 / 11, OMP_WAIT_POLICY=PASSIVE 37 / 33,
    ACTIVE 110 / 22, GOMP_SPINCOUNT=100000 105 / 42. A shorter spin keeps the quiet speed and
    stops a busy machine from starving generation; the environment may choose otherwise."""
    env = {**os.environ, **extra}
    if "OMP_WAIT_POLICY" not in env and "GOMP_SPINCOUNT" not in env:
        env["GOMP_SPINCOUNT"] = "100000"
    return env


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"died ({signal.Signals(-code).name})"
        except ValueError:
            return f"died (signal {-code})"
    return "exited" if code == 0 else f"exited with status {code}"


def _rss(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None
