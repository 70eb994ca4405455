"""records.retention_days: calls older than that go, rows and recordings, at start and hourly."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from parley.records.service import CallRecords
from parley.records.settings import RecordsSettings

from .rows import error, opened, turn


async def test_old_calls_and_their_recordings_are_deleted_at_start(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    old, recent = opened(now - timedelta(days=31)), opened(now - timedelta(days=29))
    (tmp_path / "recordings").mkdir()
    files = {c.id: tmp_path / "recordings" / f"{c.id}.ogg" for c in (old, recent)}
    for path in files.values():
        path.write_bytes(b"OggS")
    records = CallRecords(RecordsSettings(data_dir=tmp_path, retention_days=30))
    await records.start()
    try:
        for call in (old, recent):
            records.writer.put(call)
            records.writer.put(turn(call, 0, 3.0))
            records.writer.put(error(call, 1.0))
        await asyncio.wait_for(records.writer.drained(), 10)
        # The task ran once at start, maybe before the writes: run it as the hour would.
        assert await records.expire() in (0, 1)
        assert await records.store.get_call(old.id) is None
        assert not files[old.id].exists()
        assert await records.store.get_call(recent.id) is not None
        assert files[recent.id].exists()
        later = now + timedelta(days=2)  # the next day's run takes the recent one too
        assert await records.expire(later) == 1
        assert not files[recent.id].exists()
        assert await records.store.list_calls(limit=10) == []
    finally:
        await records.aclose()


async def test_the_background_task_deletes_what_was_there_at_start(tmp_path: Path) -> None:
    old = opened(datetime.now(UTC) - timedelta(days=8))
    first = CallRecords(RecordsSettings(data_dir=tmp_path))
    await first.start()
    first.writer.put(old)
    await asyncio.wait_for(first.writer.drained(), 10)
    await first.aclose()

    records = CallRecords(RecordsSettings(data_dir=tmp_path, retention_days=7))
    await records.start()
    try:
        for _ in range(500):
            if await records.store.get_call(old.id) is None:
                break
            await asyncio.sleep(0.01)
        assert await records.store.get_call(old.id) is None
    finally:
        await records.aclose()


async def test_no_retention_keeps_everything(tmp_path: Path) -> None:
    records = CallRecords(RecordsSettings(data_dir=tmp_path))
    await records.start()
    try:
        call = opened(datetime.now(UTC) - timedelta(days=3650))
        records.writer.put(call)
        await asyncio.wait_for(records.writer.drained(), 10)
        assert await records.expire() == 0
        assert await records.store.get_call(call.id) is not None
    finally:
        await records.aclose()
