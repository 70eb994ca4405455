"""The model process: loads the models it is asked for and answers requests over its channel.

Started by the session process (client.py) as `python -m parley.providers.local.model_host.child
FD PARENT_PID`, FD being its end of a socket pair. Each model gets its own worker thread, so
requests to one model run one at a time, first come first served, while the other models work
in parallel. The main thread only reads the channel (so the session process's writes never
wait on it): a cancel arrives while a model is busy and is seen by the model's loop at its next
item. The process ends when the channel closes: it never outlives the session process.

Once no job has run for `TRIM_WHEN_IDLE_S`, freed heap memory is given back to the OS
(parley/heap.py): each model thread allocates in an arena of its own, and after a few minutes
of calls one trim gave back 45 MB of a 518 MB process. Waiting for a quiet moment keeps the
trim (which holds each arena's lock in turn) off the next request's path.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import socket
import sys
import threading
import time
from concurrent.futures import Future

from parley import heap
from parley.providers.local.model_host.engines import Engine, load_engine
from parley.providers.local.model_host.faults import FaultSwitch
from parley.providers.local.model_host.wire import ChannelClosedError, Header, Writer, read_frame
from parley.providers.local.worker import ModelWorker

log = logging.getLogger("parley.model_process")

TRIM_WHEN_IDLE_S = 1.0


class _Model:
    def __init__(self, name: str) -> None:
        self.worker = ModelWorker(name)
        self.engine: Engine | None = None


class ModelProcess:
    # Longest an LLM token waits for first-segment speech: a bound, should Piper hang.
    YIELD_LIMIT = 2.0

    def __init__(self, sock: socket.socket) -> None:
        self._speech = threading.Condition()  # guards _first_segments
        self._first_segments = 0  # first-segment TTS runs in progress (see _yield_to_speech)
        self._writer = Writer(sock)
        self._reader = sock.makefile("rb")
        self._models: dict[int, _Model] = {}
        self._stops: dict[int, threading.Event] = {}
        self._faults = FaultSwitch.from_environment()
        self._jobs = 0  # loads and runs submitted and not yet finished
        self._jobs_lock = threading.Lock()
        self._last_done: float | None = None  # monotonic; None: nothing to trim since
        self.trims = 0

    def trim_when_idle(self, idle_for: float = TRIM_WHEN_IDLE_S) -> bool:
        """Trim the heap if jobs have finished since the last trim and none has run for
        `idle_for` seconds; whether it trimmed."""
        with self._jobs_lock:
            last = self._last_done
            if self._jobs or last is None or time.monotonic() - last < idle_for:
                return False
            self._last_done = None
        heap.trim()
        self.trims += 1
        return True

    def _trim_loop(self) -> None:
        while True:
            time.sleep(TRIM_WHEN_IDLE_S / 2)
            self.trim_when_idle()

    def _track(self, future: Future[None]) -> None:
        with self._jobs_lock:
            self._jobs += 1

        def finished(_: Future[None]) -> None:
            with self._jobs_lock:
                self._jobs -= 1
                self._last_done = time.monotonic()

        future.add_done_callback(finished)

    def serve(self) -> None:
        """Read requests until the channel closes."""
        if heap.available():
            threading.Thread(target=self._trim_loop, name="heap-trim", daemon=True).start()
        try:
            while True:
                header, payload = read_frame(self._reader)
                if header.get("op") == "shutdown":
                    return
                self._handle(header, payload)
        except ChannelClosedError:
            return

    def _handle(self, header: Header, payload: bytes) -> None:
        op, job = header.get("op"), int(header.get("job", 0))
        if op == "cancel":
            if (stop := self._stops.get(job)) is not None:
                stop.set()
                with self._speech:  # an LLM waiting for speech sees its cancel now
                    self._speech.notify_all()
            return
        model_id = int(header["model"])
        if op == "load":
            model = self._models[model_id] = _Model(str(header["engine"]))
            self._track(model.worker.submit(self._load, model, job, header))
        elif op == "unload":
            if (gone := self._models.pop(model_id, None)) is not None:
                gone.worker.close()  # queued calls are dropped; the model goes with its thread
        elif op == "run":
            target = self._models.get(model_id)
            if target is None:  # (sent from another thread: this one only ever reads)
                error = {"job": job, "error": f"model {model_id} is not loaded"}
                threading.Thread(target=self._send, args=(error,), daemon=True).start()
                return
            stop = self._stops[job] = threading.Event()
            future = target.worker.submit(self._run, target, job, header, payload, stop)
            future.add_done_callback(lambda _: self._stops.pop(job, None))
            self._track(future)

    def _load(self, model: _Model, job: int, header: Header) -> None:
        started = time.perf_counter()
        try:
            model.engine = load_engine(str(header["engine"]), dict(header.get("options", {})))
        except Exception as exc:
            self._send({"job": job, "error": f"{type(exc).__name__}: {exc}"})
            return
        seconds = round(time.perf_counter() - started, 3)
        self._send({"job": job, "done": True, "info": model.engine.info, "seconds": seconds})

    def _run(
        self, model: _Model, job: int, header: Header, payload: bytes, stop: threading.Event
    ) -> None:
        if stop.is_set():  # cancelled while queued: skip the work
            return
        engine = model.engine
        if engine is None:
            self._send({"job": job, "error": "the model failed to load"})
            return
        request = dict(header.get("request", {}))
        first_segment = engine.kind == "tts" and bool(request.get("first"))
        if first_segment:
            with self._speech:
                self._first_segments += 1
        try:
            self._faults.check(engine.kind, 0)
            items = engine.run(request, payload, stop)
            for sent, (item, data) in enumerate(items, start=1):
                if stop.is_set():
                    return
                self._send({"job": job, "item": item}, data)
                self._faults.check(engine.kind, sent)
                if engine.kind == "llm":
                    self._yield_to_speech(stop)
            if not stop.is_set():
                self._send({"job": job, "done": True})
        except Exception as exc:
            error = f"{model.worker.name} failed: {type(exc).__name__}: {exc}"
            self._send({"job": job, "error": error})
        finally:
            if first_segment:
                with self._speech:
                    self._first_segments -= 1
                    self._speech.notify_all()

    def _yield_to_speech(self, stop: threading.Event) -> None:
        """Between two LLM tokens (the next is computed only when asked for): wait while
        Piper makes the first segment of an answer, which a listener is waiting for; the
        LLM's text is far ahead of the speech and can wait, and on two cores the two halve
        each other's speed. A first token is never delayed, only those after it."""
        with self._speech:
            self._speech.wait_for(
                lambda: self._first_segments == 0 or stop.is_set(), timeout=self.YIELD_LIMIT
            )

    def _send(self, header: Header, payload: bytes = b"") -> None:
        with contextlib.suppress(ChannelClosedError):  # the session process is gone: exiting
            self._writer.send(header, payload)


def _exit_when_orphaned(parent: int) -> None:
    """Belt and braces: if the parent died but the channel stayed open (a fork holds it)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    faulthandler.enable()  # a native crash prints the Python stack before the process dies
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    sock = socket.socket(fileno=int(args[0]))
    threading.Thread(
        target=_exit_when_orphaned, args=(int(args[1]),), name="orphan-watch", daemon=True
    ).start()
    ModelProcess(sock).serve()
    sys.stderr.flush()
    os._exit(0)  # model threads may be mid-call; nothing of theirs needs to finish


if __name__ == "__main__":
    main()
