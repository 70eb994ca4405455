"""parley served for tests: in this test's own event loop (`serving`), or as the real
`parley serve` command in a child process (`parley_serve`), each on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Literal

import httpx
import uvicorn

from parley.server.serve import uvicorn_config
from parley.server.workers import default_workers
from parley.settings import Settings

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
# The scripted providers: `parley serve` with these needs no model and starts in a second.
FAKE_PROVIDERS = ("--vad", "energy", "--stt", "fake", "--llm", "fake", "--tts", "fake")


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serving(
    app: ASGIApp, *, lifespan: Literal["on", "off"] = "on", settings: Settings | None = None
) -> AsyncIterator[str]:
    """Run `app` on a free loopback port in this loop; yields "127.0.0.1:PORT".

    `lifespan="off"` is for bare ASGI apps (the cloud fakes) that handle only HTTP. With
    `settings`, uvicorn runs as `parley serve` runs it (parley.server.serve: its limits).
    """
    if settings is None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan=lifespan)
    else:
        config = uvicorn_config(app, settings, host="127.0.0.1", port=0, lifespan=lifespan)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(1000):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if not server.started:
            raise RuntimeError("uvicorn did not start")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


class ServeProcess:
    """A running `parley serve`: its address ("127.0.0.1:PORT"), its process (the leader of
    its own process group: the node's parent, whose workers and model process share the
    group) and its stderr (the log), read as it comes so the pipe never fills."""

    def __init__(self, host: str, process: asyncio.subprocess.Process) -> None:
        self.host = host
        self.process = process
        self._log = bytearray()
        self._reader = asyncio.create_task(self._read())

    @property
    def log(self) -> str:
        """What it has logged so far; all of it once `wait` or `stop` has returned."""
        return self._log.decode(errors="replace")

    @property
    def tail(self) -> str:
        """The end of the log, for a failure's message."""
        return self.log[-5000:]

    async def _read(self) -> None:
        assert self.process.stderr is not None
        while piece := await self.process.stderr.read(65536):
            self._log += piece

    async def wait(self, limit: float) -> int:
        """Its exit code, within `limit` s (else TimeoutError), and the rest of its log."""
        code = await asyncio.wait_for(self.process.wait(), limit)
        # A process it left behind may hold the pipe open: the log ends without it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._reader), 5)
        return code

    async def stop(self, limit: float = 20.0) -> None:
        """SIGTERM, as a service manager stops it; past `limit` s, SIGKILL to its whole
        process group, and the test fails: a server must stop when asked."""
        if self.process.returncode is None:
            self.process.terminate()
        try:
            await self.wait(limit)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()
            raise AssertionError(
                f"parley serve did not stop within {limit:g} s of SIGTERM:\n{self.tail}"
            ) from None
        finally:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def until_ready(self, workers: int, limit: float) -> None:
        """Until /health answers 200 listing `workers` workers, each ready for calls: the
        worker that answers first may be up while another is still loading its providers
        (and would refuse the test's first call)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        async with httpx.AsyncClient(base_url=f"http://{self.host}") as http:
            while loop.time() < deadline:
                if self.process.returncode is not None:
                    code = await self.wait(5)
                    raise AssertionError(f"parley serve exited ({code}) starting:\n{self.tail}")
                with contextlib.suppress(httpx.TransportError):
                    reply = await http.get("/health", timeout=5)
                    listed = reply.json()["workers"] if reply.status_code == 200 else []
                    if len(listed) == workers and all(w["accepting"] for w in listed):
                        return
                await asyncio.sleep(0.05)
        raise AssertionError(f"parley serve was not ready within {limit:g} s:\n{self.tail}")


@contextlib.asynccontextmanager
async def parley_serve(
    *args: str,
    env: Mapping[str, str] | None = None,
    workers: int | None = None,
    ready_within: float = 30.0,
    stop_within: float = 20.0,
) -> AsyncIterator[ServeProcess]:
    """`parley serve ARGS` on a free port (`--workers N` when `workers` is given), with `env`
    over this process's environment; yields once /health answers (with every worker up).
    On leaving, it is stopped (`ServeProcess.stop`) unless the test already ended it."""
    port = free_port()
    command = [sys.executable, "-m", "parley.cli", "serve", "--port", str(port), *args]
    if workers is not None:
        command += ["--workers", str(workers)]
    environment = {**os.environ, **(env or {})}
    # without --workers the command runs its default: PARLEY_WORKERS, else one per core
    expected = workers or int(environment.get("PARLEY_WORKERS") or 0) or default_workers()
    process = await asyncio.create_subprocess_exec(
        *command, env=environment,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group: the parent and its workers
    )  # fmt: skip
    served = ServeProcess(f"127.0.0.1:{port}", process)
    try:
        await served.until_ready(expected, ready_within)
        yield served
    finally:
        await served.stop(stop_within)
