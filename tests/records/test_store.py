"""The store against SQLite and a real PostgreSQL: migrations, writes, reads, recovery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, bindparam, inspect, text
from sqlalchemy.exc import IntegrityError

from parley.records.models import Base, Turn, UTCDateTime
from parley.records.rows import CallClosed
from parley.records.store import SERVER_STOPPED, Store
from parley.timing import STAGES

from .postgres import PostgresServer
from .rows import T0, error, opened, turn


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    store = Store(database_url)
    await store.migrate()
    yield store
    await store.aclose()


async def test_migrations_from_empty_match_the_models(database_url: str) -> None:
    store = Store(database_url)
    try:
        await store.migrate()
        await store.migrate()  # a second start changes nothing
        async with store.engine.connect() as connection:
            version = await connection.execute(text("select version_num from alembic_version"))
            assert version.scalar_one() == "0002"
            diff = await connection.run_sync(_compare)
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert diff == [], f"the migrations and models.py disagree: {diff}"
        assert {"calls", "turns", "call_errors"} <= tables
    finally:
        await store.aclose()


async def test_nodes_starting_together_on_an_empty_database_both_start(
    postgres: PostgresServer,
) -> None:
    """Two nodes of deploy/compose.yaml start at once against one new database: each
    migrates, and neither may fail on the other's half-made tables."""
    url = postgres.create_database("parley_together")
    stores = [Store(url) for _ in range(3)]
    try:
        await asyncio.gather(*(store.migrate() for store in stores))
        async with stores[0].engine.connect() as connection:
            version = await connection.execute(text("select version_num from alembic_version"))
            assert version.scalars().all() == ["0002"]
    finally:
        for store in stores:
            await store.aclose()


def _compare(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def test_every_timing_stage_has_a_column() -> None:
    assert set(STAGES) <= set(Turn.__table__.columns.keys())


async def test_a_call_round_trips(store: Store) -> None:
    call = opened()
    await store.write(call)
    await store.write(turn(call, 0, 4.5))
    await store.write(turn(call, 1, 9.0, "interrupted"))
    await store.write(error(call, 3.2))
    ended = T0 + timedelta(seconds=12.5)
    await store.write(CallClosed(call.id, ended, "caller hung up"))

    detail = await store.get_call(call.id)
    assert detail is not None
    listing = detail.listing
    assert (listing.turn_count, listing.error_count) == (2, 1)
    row = listing.call
    assert row.started_at == T0 and row.ended_at == ended and row.end_reason == "caller hung up"
    assert row.twilio_call_sid == call.twilio_call_sid and row.twilio_from == "+15550001111"
    assert row.providers == call.providers and row.policy == call.policy
    assert [(t.index, t.status) for t in detail.turns] == [(0, "completed"), (1, "interrupted")]
    first = detail.turns[0]
    assert first.user_text == "question 0 ünïcode" and first.heard_text == "the whole 0"
    assert (first.speech_started, first.committed, first.ended) == (1.5, 2.5, 4.5)
    assert first.first_audio_out is None and (first.pauses, first.resumes) == (1, 1)
    assert [(e.at_s, e.code, e.message) for e in detail.errors] == [(3.2, "stt_failed", "oops")]


async def test_a_turn_written_twice_is_refused(store: Store) -> None:
    """The writer drops what the database refuses (a retried write that had gone through)."""
    call = opened()
    await store.write(call)
    await store.write(turn(call, 0, 4.5))
    with pytest.raises(IntegrityError):
        await store.write(turn(call, 0, 4.5))


async def test_calls_left_open_end_at_their_last_activity(store: Store) -> None:
    crashed, finished = opened(), opened(T0 + timedelta(minutes=1))
    for call in (crashed, finished):
        await store.write(call)
        await store.write(turn(call, 0, 4.0))
    await store.write(error(crashed, 2.0))  # earlier than the turn: the turn stays the last
    await store.write(CallClosed(finished.id, finished.started_at + timedelta(seconds=5), "bye"))

    assert await store.close_open_calls() == 1
    assert await store.close_open_calls() == 0
    detail = await store.get_call(crashed.id)
    assert detail is not None
    assert detail.listing.call.end_reason == SERVER_STOPPED
    assert detail.listing.call.ended_at == T0 + timedelta(seconds=4.0)
    other = await store.get_call(finished.id)
    assert other is not None and other.listing.call.end_reason == "bye"


async def test_a_node_sharing_the_database_closes_only_its_own_calls(store: Store) -> None:
    """Nodes sharing one database (cluster.redis_url set): a node that starts closes its own
    calls left open and the ones no node was named for, never another node's live call."""
    mine, theirs, unnamed = opened(node="parley-a"), opened(node="parley-b"), opened()
    for call in (mine, theirs, unnamed):
        await store.write(call)
    assert await store.close_open_calls("parley-a") == 2
    ends = {}
    for call in (mine, theirs, unnamed):
        detail = await store.get_call(call.id)
        assert detail is not None
        ends[call.id] = detail.listing.call.end_reason
        assert detail.listing.call.node == call.node
    assert ends == {mine.id: SERVER_STOPPED, theirs.id: None, unnamed.id: SERVER_STOPPED}
    assert await store.close_open_calls() == 1  # a node alone closes every call left open
    theirs_now = await store.get_call(theirs.id)
    assert theirs_now is not None and theirs_now.listing.call.end_reason == SERVER_STOPPED


async def test_a_database_of_the_first_release_gains_the_node_column(database_url: str) -> None:
    """A database migrated to 0001 (calls with no node) is brought to the newest revision
    with its calls intact, and its open calls are closed by whichever node starts first."""
    store = Store(database_url)
    try:
        await store.migrate("0001")
        async with store.engine.begin() as connection:
            await connection.execute(
                text(
                    "insert into calls (id, transport, started_at, last_activity_at, providers,"
                    " policy, recording) values (:id, 'browser', :t, :t, '{}', '{}', false)"
                ).bindparams(bindparam("t", type_=UTCDateTime())),
                {"id": "f" * 32, "t": T0},
            )
        await store.migrate()
        detail = await store.get_call("f" * 32)
        assert detail is not None and detail.listing.call.node is None
        assert await store.close_open_calls("parley-b") == 1
    finally:
        await store.aclose()


async def test_listing_is_newest_first_with_filters_and_pages(store: Store) -> None:
    calls = [opened(T0 + timedelta(minutes=i), "twilio" if i % 2 else "browser") for i in range(7)]
    same_time = opened(T0 + timedelta(minutes=6), "twilio")  # ties are ordered by id
    for call in [*calls, same_time]:
        await store.write(call)
    everything = await store.list_calls(limit=100)
    assert [c.call.started_at for c in everything] == sorted(
        (c.started_at for c in [*calls, same_time]), reverse=True
    )
    pages, after = [], None
    while True:
        page = await store.list_calls(limit=3, after=after)
        if not page:
            break
        pages.append([c.call.id for c in page])
        after = (page[-1].call.started_at, page[-1].call.id)
    assert [i for p in pages for i in p] == [c.call.id for c in everything]
    twilio = await store.list_calls(limit=100, transport="twilio")
    assert {c.call.transport for c in twilio} == {"twilio"} and len(twilio) == 4
    window = await store.list_calls(
        limit=100, since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4)
    )
    assert [c.call.started_at for c in window] == [T0 + timedelta(minutes=m) for m in (3, 2)]
    assert await store.calls_before(T0 + timedelta(minutes=2)) == [calls[0].id, calls[1].id]


async def test_delete_removes_the_call_its_turns_and_errors(store: Store) -> None:
    call, other = opened(), opened()
    for c in (call, other):
        await store.write(c)
        await store.write(turn(c, 0, 4.0))
        await store.write(error(c, 1.0))
    assert await store.delete_call(call.id)
    assert not await store.delete_call(call.id)
    assert await store.get_call(call.id) is None
    async with store.engine.connect() as connection:
        turns = await connection.execute(text("select count(*) from turns"))
        errors = await connection.execute(text("select count(*) from call_errors"))
        assert (turns.scalar_one(), errors.scalar_one()) == (1, 1)


async def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path}/sub/parley.db")  # the folder is made
    await store.migrate()
    async with store.engine.connect() as connection:
        mode = await connection.execute(text("pragma journal_mode"))
        assert mode.scalar_one() == "wal"
    await store.aclose()
