"""One model process for every worker of a node (`parley serve --workers N`).

The parent owns the `ModelHost` (so the one child, its restarts and its back-off) and listens
on a Unix socket; each worker's host connects there instead of starting a child of its own
(`ModelHost(connect=path)`) and speaks the child's own protocol (wire.py: load, unload, run,
cancel, plus `status`). The broker maps each worker's model and job ids to the host's: a model
asked for by several workers with the same options is loaded once and shared (and kept until
the broker closes, so a restarted worker finds it loaded). When the child
dies the host fails the jobs in flight (each worker's call loses that turn, invariant 12) and
starts it again; a request meanwhile waits (bounded) for the model to be back. A worker that
goes away has its jobs cancelled.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from dataclasses import asdict

from parley.providers.base import ProviderError
from parley.providers.local.model_host.client import ModelHost
from parley.providers.local.model_host.remote import MODEL_SOCKET
from parley.providers.local.model_host.wire import (
    ChannelBackedUpError,
    ChannelClosedError,
    Header,
    QueuedWriter,
    read_frame,
)

__all__ = ["MODEL_SOCKET", "ModelBroker"]
log = logging.getLogger("parley.model_process")


class ModelBroker:
    def __init__(self, path: str, host: ModelHost | None = None) -> None:
        self.path = path
        self.host = host or ModelHost()
        self._lock = threading.Lock()
        self._loading = threading.Lock()  # loads one at a time: two workers share one copy
        self._models: dict[str, tuple[int, Header, int]] = {}  # key -> (host id, info, users)
        self._connections: set[_Connection] = set()
        self._closed = False
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self._listener.bind(path)
        self._listener.listen(64)
        self._thread = threading.Thread(target=self._accept, name="parley-model-broker",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    def close(self) -> None:
        """Stop listening, drop the workers' connections, stop the model process."""
        with self._lock:
            self._closed = True
            connections = list(self._connections)
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for connection in connections:
            connection.close()
        self.host.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self._closed:
                    sock.close()
                    return
                connection = _Connection(self, sock)
                self._connections.add(connection)
            connection.start()

    def _acquire(self, engine: str, options: Header) -> tuple[str, int, Header]:
        key = json.dumps([engine, options], sort_keys=True)
        with self._loading:
            with self._lock:
                if key in self._models:
                    model, info, users = self._models[key]
                    self._models[key] = (model, info, users + 1)
                    return key, model, info
            model, info = self.host.load(engine, options)
            with self._lock:
                self._models[key] = (model, info, 1)
            return key, model, info

    def _release(self, key: str) -> None:
        """A worker is done with a model. It stays loaded (a restarted worker asks for it
        again at once; reloading Whisper and llama.cpp takes seconds) until the broker closes."""
        with self._lock:
            model, info, users = self._models[key]
            self._models[key] = (model, info, max(0, users - 1))

    def _forget(self, connection: _Connection) -> None:
        with self._lock:
            self._connections.discard(connection)


class _Connection:
    """One worker's channel: its requests in, its results out (queued: a worker that stops
    reading never holds up the host's reader, so the other workers' calls go on)."""

    def __init__(self, broker: ModelBroker, sock: socket.socket) -> None:
        self._broker = broker
        self._host = broker.host
        self._sock = sock
        self._writer = QueuedWriter(sock)
        self._lock = threading.Lock()
        self._models: dict[int, tuple[str, int]] = {}  # worker's model id -> (key, host id)
        self._jobs: dict[int, int | None] = {}  # worker's job -> host job (None: waiting)

    def start(self) -> None:
        threading.Thread(target=self._serve, name="parley-model-broker-worker",
                         daemon=True).start()  # fmt: skip

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def _serve(self) -> None:
        reader = self._sock.makefile("rb")
        try:
            while True:
                header, payload = read_frame(reader)
                if header.get("op") == "shutdown":
                    break
                self._handle(header, payload)
        except (ChannelClosedError, OSError, ValueError):
            pass
        finally:
            self._gone()

    def _handle(self, header: Header, payload: bytes) -> None:
        op, job = header.get("op"), int(header.get("job", 0))
        if op == "run":
            self._run(job, int(header["model"]), dict(header.get("request", {})), payload)
        elif op == "cancel":
            with self._lock:
                host_job = self._jobs.pop(job, None)
            if host_job is not None:
                self._host.cancel(host_job)
        elif op == "load":
            engine, options = str(header["engine"]), dict(header.get("options", {}))
            threading.Thread(target=self._load, args=(job, int(header["model"]), engine,
                             options), daemon=True).start()  # fmt: skip
        elif op == "unload":
            with self._lock:
                held = self._models.pop(int(header["model"]), None)
            if held is not None:
                self._broker._release(held[0])
        elif op == "status":
            self._send({"job": job, "done": True, "status": asdict(self._host.status())})

    def _load(self, job: int, model: int, engine: str, options: Header) -> None:
        try:
            key, host_model, info = self._broker._acquire(engine, options)
        except ProviderError as exc:
            self._send({"job": job, "error": str(exc)})
            return
        with self._lock:
            self._models[model] = (key, host_model)
        self._send({"job": job, "done": True, "info": info})

    def _run(self, job: int, model: int, request: Header, payload: bytes) -> None:
        with self._lock:
            held = self._models.get(model)
            if held is not None:
                self._jobs[job] = None
        if held is None:
            self._send({"job": job, "error": f"model {model} is not loaded"})
            return
        host_model = held[1]
        if self._host.is_loaded(host_model):
            self._submit(job, host_model, request, payload)
        else:  # the child is restarting: wait for it off this reader thread
            waiting = (job, host_model, request, payload)
            threading.Thread(target=self._submit_when_loaded, args=waiting, daemon=True).start()

    def _submit_when_loaded(self, job: int, model: int, request: Header, payload: bytes) -> None:
        try:
            self._host.wait_loaded(model)
        except ProviderError as exc:
            with self._lock:
                self._jobs.pop(job, None)
            self._send({"job": job, "error": str(exc)})
            return
        self._submit(job, model, request, payload)

    def _submit(self, job: int, model: int, request: Header, payload: bytes) -> None:
        def sink(kind: str, header: Header, data: bytes) -> None:
            if kind == "item":
                self._send({"job": job, "item": header}, data)
                return
            with self._lock:
                self._jobs.pop(job, None)
            self._send({**header, "job": job})

        with self._lock:
            if job not in self._jobs:
                return  # cancelled while it waited
        try:
            host_job = self._host.submit(model, request, payload, sink)
        except ProviderError as exc:
            with self._lock:
                self._jobs.pop(job, None)
            self._send({"job": job, "error": str(exc)})
            return
        with self._lock:
            cancelled = job not in self._jobs
            if not cancelled:
                self._jobs[job] = host_job
        if cancelled:
            self._host.cancel(host_job)

    def _send(self, header: Header, payload: bytes = b"") -> None:
        try:
            self._writer.send(header, payload)
        except ChannelClosedError:
            pass  # the worker is gone: _serve sees it and cancels its work
        except ChannelBackedUpError as exc:  # its results would only queue: drop it as gone
            log.warning("a worker is not reading its results (%s); closing its channel", exc)
            self.close()

    def _gone(self) -> None:
        """The worker closed its channel (or died): cancel its work, release its models."""
        with self._lock:
            jobs, self._jobs = self._jobs, {}
            models, self._models = self._models, {}
        for host_job in jobs.values():
            if host_job is not None:
                self._host.cancel(host_job)
        for key, _ in models.values():
            self._broker._release(key)
        self._writer.close()
        with contextlib.suppress(OSError):
            self._sock.close()
        self._broker._forget(self)
