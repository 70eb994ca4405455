"""The writer never holds a call up: a database that hangs delays no frame, writes past the
queue's bound are dropped and counted, a failing database is retried in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from parley.records.rows import Write
from parley.records.store import Store
from parley.records.writer import RecordWriter
from parley.server.state import ServerState
from parley.testing.twilio_caller.fake_caller import HangUp, Pause, Speak, WaitFor, agent_finished
from tests.twilio import harness as twilio

from .rows import opened, turn


@contextlib.asynccontextmanager
async def hanging_database() -> AsyncIterator[tuple[int, list[asyncio.StreamWriter]]]:
    """A TCP server where PostgreSQL should be that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], held
    finally:
        for writer in held:
            writer.close()
        server.close()


async def test_a_hanging_database_delays_no_frame_and_drops_past_the_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reply = "It is nine in the evening in Tokyo."  # 8 words: 2 s of audio
    providers = twilio.fake_providers(["what time is it in tokyo right now"], [reply])
    caplog.set_level(logging.WARNING, "parley.records")
    async with hanging_database() as (port, held):
        records = {"database_url": f"postgresql+asyncpg://parley@127.0.0.1:{port}/calls",
                   "queue_size": 2}  # fmt: skip
        async with twilio.parley_server(providers, records=records) as site:
            caller = site.caller([
                Pause(0.3),
                Speak(twilio.speech("question_time"), "question"),
                WaitFor(agent_finished(0.5), what="the answer"),
                HangUp(),
            ])  # fmt: skip
            log = await asyncio.wait_for(caller.run(), 20)
            state: ServerState = site.app.state.parley
            assert state.records is not None
            writer = state.records.writer
            for _ in range(100):  # the session's last events (its close) come just after
                if writer.dropped:
                    break
                await asyncio.sleep(0.01)
            assert held, "the writer never reached the database"
            assert not writer.ready.is_set() and writer.written == 0
            # Opened, the turn, closed: three writes, a queue of two.
            assert (len(writer), writer.dropped) == (2, 1)
            assert state.metrics.records_dropped._value.get() == 1

    assert len(log.media_received) == 100  # the whole answer, 20 ms frames
    lateness = caller.frame_lateness()
    assert max(lateness) < 0.05, f"a caller frame left {max(lateness) * 1000:.0f} ms late"
    gaps = [b - a for a, b in zip(log.media_received, log.media_received[1:], strict=False)]
    assert max(gaps) < 0.1, f"agent audio stalled {max(gaps) * 1000:.0f} ms"
    v2v = caller.voice_to_voice(log.utterances[0])
    assert v2v is not None and v2v < 2.0
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert dropped[0].startswith("call records: dropped 1 writes (the queue is full")
    assert any("2 more" in line for line in dropped), dropped  # the two left at shutdown


async def test_writes_are_retried_in_order_until_the_database_takes_them() -> None:
    written: list[Write] = []
    failures = 3

    async def flaky(item: Write) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise ConnectionRefusedError("the database is restarting")
        written.append(item)

    writer = RecordWriter(flaky, queue_size=10, backoff=(0.01, 0.02))
    task = asyncio.create_task(writer.run())
    call = opened()
    items: list[Write] = [call, turn(call, 0, 3.0), turn(call, 1, 6.0)]
    for item in items:
        assert writer.put(item)
    await asyncio.wait_for(writer.drained(), 5)
    assert written == items and writer.dropped == 0
    await writer.aclose(task, 1.0)


async def test_a_write_the_database_refuses_is_dropped_not_retried(tmp_path: Path) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'parley.db'}")
    drops: list[int] = []
    writer = RecordWriter(store.write, queue_size=10, on_drop=drops.append, prepare=store.migrate)
    task = asyncio.create_task(writer.run())
    call = opened()
    items: list[Write] = [call, turn(call, 0, 3.0), turn(call, 0, 3.0), turn(call, 1, 6.0)]
    for item in items:
        writer.put(item)
    await asyncio.wait_for(writer.drained(), 10)
    detail = await store.get_call(call.id)
    assert detail is not None and [t.index for t in detail.turns] == [0, 1]
    assert drops == [1] and writer.written == 3
    await writer.aclose(task, 1.0)
    await store.aclose()
