"""A benchmark server in a process of its own: started from a spec, watched, stopped.

Each framework gets its own process so its CPU and memory are its own: the harness reads the
resident memory and CPU time from /proc, of the server and every process under it (parley's
models run in a child process of the server). The server's output goes to a log file
beside its spec, which is shown when it fails to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from parley.benchmarks.events import Event, read_events
from parley.benchmarks.spec import ServerSpec

_MODULES = {
    "parley": "parley.benchmarks.parley_server",
    "pipecat": "parley.benchmarks.pipecat_server",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    def __init__(self, spec: ServerSpec, process: asyncio.subprocess.Process, log: Path) -> None:
        self.spec = spec
        self.process = process
        self.log = log

    @property
    def media_url(self) -> str:
        return f"ws://127.0.0.1:{self.spec.port}/twilio/media"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.spec.port}"

    def events(self) -> list[Event]:
        return read_events(self.spec.events)

    def rss_bytes(self) -> int:
        """Resident memory of the server process and its descendants now."""
        total = 0
        for pid in _process_tree(self.process.pid):
            with contextlib.suppress(OSError, StopIteration):
                status = Path(f"/proc/{pid}/status").read_text()
                line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
                total += int(line.split()[1]) * 1024
        return total

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server and its descendants have used so far,
        including descendants that have exited (a model process that crashed)."""
        ticks = 0
        for pid in _process_tree(self.process.pid):
            with contextlib.suppress(OSError):
                fields = _stat_fields(pid)
                ticks += int(fields[11]) + int(fields[12])
                if pid == self.process.pid:
                    ticks += int(fields[13]) + int(fields[14])  # children it has reaped
        return ticks / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: field 0 is the state, 1 the parent."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _process_tree(root: int) -> list[int]:
    """`root` and every process descended from it, found by their parents in /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                children.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(
                    int(entry.name)
                )
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, ()))
    return tree


@contextlib.asynccontextmanager
async def running(
    spec: ServerSpec, workdir: Path, name: str, ready_within: float = 180.0
) -> AsyncIterator[ServerProcess]:
    """Start the server for `spec`, wait until /health answers, yield it; stop it after."""
    spec_path, log = _prepare(spec, workdir, name)
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", _MODULES[spec.framework], str(spec_path),
            stdout=out, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
    server = ServerProcess(spec, process, log)
    try:
        await _wait_ready(server, ready_within)
        yield server
    finally:
        await _stop(process)


def _prepare(spec: ServerSpec, workdir: Path, name: str) -> tuple[Path, Path]:
    """Write the spec; start with no events and an empty log."""
    workdir.mkdir(parents=True, exist_ok=True)
    spec_path = workdir / f"{name}.spec.json"
    spec_path.write_text(spec.model_dump_json(indent=2))
    spec.events.unlink(missing_ok=True)
    return spec_path, workdir / f"{name}.log"


async def _wait_ready(server: ServerProcess, within: float) -> None:
    url = f"http://127.0.0.1:{server.spec.port}/health"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    async with httpx.AsyncClient(timeout=2.0) as client:
        while loop.time() < deadline:
            if server.process.returncode is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    problem = "exited" if server.process.returncode is not None else "did not become ready"
    raise RuntimeError(
        f"the {server.spec.framework} server {problem}; its log ends:\n{server.log_tail()}"
    )


async def _stop(process: asyncio.subprocess.Process, grace: float = 15.0) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        process.kill()
        await process.wait()
