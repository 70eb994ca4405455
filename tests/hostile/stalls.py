"""Long inputs sent to a running server while a probe measures the event loop's longest stall.

The probe runs in the server's own loop and yields at every turn of it, so it runs once per
loop iteration. Between two of its turns, whatever else ran on the loop (a handler, a
validator, a log formatter) held it: the probe records the CPU time the loop's thread spent
in that gap, which is that work's cost whatever else the machine is doing, and also the gap's
wall time (which on a loaded machine includes the time the process waited for a core). It
measures one iteration, not a period: a probe that slept 5 ms between turns also counted the
unrelated work of those 5 ms (8 ms where the longest step took 2.5 ms). The price is one busy
core while it runs. Each input is sent on its own, after a quiet moment, and gets the longest
stall seen while it was handled (up to its reply or close, then a short settle).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlencode

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

SETTLE = 0.1  # after the reply: log records of the input are written by then


class StallProbe:
    """Since the last `reset`: the most CPU time the loop spent in one of its iterations
    (`worst`), and the longest wall time one took (`worst_wall`)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_wall = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            cpu, wall = time.thread_time(), loop.time()
            await asyncio.sleep(0)  # back at the next iteration of the loop
            self.worst = max(self.worst, time.thread_time() - cpu)
            self.worst_wall = max(self.worst_wall, loop.time() - wall)

    def reset(self) -> None:
        self.worst = self.worst_wall = 0.0

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[StallProbe]:
        """Probe while the body runs. The test process's heap (every earlier test's objects)
        is frozen meanwhile, as `parley serve` freezes its start-up heap: a full collection
        of pytest's heap landing in the window measured 82 ms, which no server would walk.
        Python's automatic collections are paused too: how long one takes depends on what
        the whole process holds, not on the input measured (one of what a test made since
        the freeze took 14-18 ms here), and a server's own pauses are measured apart
        (`parley_gc_pause_seconds`). Explicit collections, as the server's collector runs,
        still count."""
        gc.collect()
        gc.freeze()
        was_enabled = gc.isenabled()
        gc.disable()
        self._task = asyncio.create_task(self._run())
        try:
            yield self
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            if was_enabled:
                gc.enable()
            gc.unfreeze()


def _twilio_start(call_sid: str, parameters: dict[str, object]) -> str:
    return json.dumps({
        "event": "start",
        "streamSid": "MZ" + "0" * 32,
        "start": {
            "streamSid": "MZ" + "0" * 32,
            "accountSid": "AC" + "0" * 32,
            "callSid": call_sid,
            "customParameters": parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    })  # fmt: skip


async def http(host: str, head: str, body: bytes = b"") -> bytes:
    """One raw HTTP/1.1 request (`head` without Host and Connection); the whole answer.
    Raw, since an HTTP client costs this loop more than the server does (its TLS setup)."""
    hostname, port = host.split(":")
    reader, writer = await asyncio.open_connection(hostname, int(port))
    try:
        writer.write(f"{head}\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 300)
    finally:
        writer.close()


async def long_path(host: str) -> None:
    """GET /health?"xxxx...: a quote and 64k word characters (uvicorn's access log shows the
    query string as it came; rich's highlighter took 22.6 s over it)."""
    await http(host, 'GET /health?"' + "a" * 64_000 + " HTTP/1.1")


async def twilio_start(host: str, call_sid: str, parameters: dict[str, object]) -> None:
    """A media stream whose `start` carries `call_sid` and `parameters`; read until closed
    (or 1 s of the call)."""
    async with connect(f"ws://{host}/twilio/media", max_size=2**20) as ws:
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send(_twilio_start(call_sid, parameters))
        with contextlib.suppress(TimeoutError, ConnectionClosed):
            async with asyncio.timeout(1.0):
                async for _ in ws:
                    pass


async def realtime_unknown_parameter(host: str) -> None:
    """session.update with an unknown parameter: a quote and 16k word characters. The error
    event names it."""
    async with connect(f"ws://{host}/v1/realtime", max_size=2**24) as ws:
        await ws.recv()  # session.created
        update = {"type": "session.update", "session": {"'" + "k" * 16_384: 1}}
        await ws.send(json.dumps(update))
        async with asyncio.timeout(10):
            while json.loads(await ws.recv())["type"] != "error":
                pass


async def voice_webhook(host: str, call_sid: str) -> None:
    """POST /twilio/voice with a long CallSid."""
    body = urlencode({"CallSid": call_sid}).encode()
    head = "POST /twilio/voice HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded"
    await http(host, f"{head}\r\nContent-Length: {len(body)}", body)


Sender = Callable[[str], Awaitable[None]]

LONG_INPUTS: dict[str, Sender] = {
    'GET /health?" + 64k chars': long_path,
    "twilio start, 16k callSid": lambda host: twilio_start(host, "CA" + "1" * 16_382, {}),
    "twilio start, 60k callSid": lambda host: twilio_start(host, "CA" + "1" * 60_000, {}),
    "twilio start, 16k customParameters key": lambda host: twilio_start(
        host, "CA" + "1" * 32, {"k" * 16_384: 1}
    ),
    "realtime, 16k unknown session parameter": realtime_unknown_parameter,
    "POST /twilio/voice, 16k CallSid": lambda host: voice_webhook(host, "CA" + "1" * 16_382),
}


async def measure_stalls(host: str) -> dict[str, tuple[float, float]]:
    """The longest loop stall while each long input was handled, by input: (CPU s, wall s)."""
    stalls: dict[str, tuple[float, float]] = {}
    # A plain request first: a server's first request pays for what it starts lazily (the
    # records' start-up work came to 12 ms in the first input's window), not the input.
    await http(host, "GET /health HTTP/1.1")
    await asyncio.sleep(1.0)
    async with StallProbe().running() as probe:
        for name, send in LONG_INPUTS.items():
            await asyncio.sleep(SETTLE)
            probe.reset()
            await send(host)
            await asyncio.sleep(SETTLE)
            stalls[name] = (probe.worst, probe.worst_wall)
    return stalls
