"""The call records database: SQLAlchemy 2 async, SQLite (aiosqlite) or PostgreSQL (asyncpg).

The schema comes from the Alembic migrations shipped in `migrations/`, applied when the
server starts. SQLite runs in WAL mode, so the API's reads never wait for the writer's
commits and a killed process leaves every committed turn in the file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, event, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from parley.records.models import Call, CallError, Turn
from parley.records.rows import CallClosed, CallOpened, ErrorMet, TurnEnded, Write

MIGRATIONS = Path(__file__).parent / "migrations"
SERVER_STOPPED = "server stopped"
# The advisory lock key nodes take while migrating a shared PostgreSQL database ("parley" in
# ASCII): any fixed 64-bit number that nothing else on that database uses.
MIGRATION_LOCK = 0x7061726C6579


@dataclass(frozen=True, slots=True)
class CallListing:
    call: Call
    turn_count: int
    error_count: int


@dataclass(frozen=True, slots=True)
class CallDetail:
    listing: CallListing
    turns: list[Turn]
    errors: list[CallError]


class Store:
    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        options: dict[str, Any] = {}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"timeout": 30}
        else:
            options["pool_pre_ping"] = True
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def aclose(self) -> None:
        await self.engine.dispose()

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema to the newest revision (from empty, or from an older one); tests
        name an older `revision` to make a database as an earlier release left it.

        Nodes sharing a PostgreSQL database may start at once (deploy/compose.yaml): each
        takes a transaction-scoped advisory lock first, so one migrates and the others wait,
        then find the schema current, instead of failing on each other's half-made tables."""
        async with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                lock = text("SELECT pg_advisory_xact_lock(:key)")
                await connection.execute(lock, {"key": MIGRATION_LOCK})
            await connection.run_sync(_upgrade, revision)

    async def close_open_calls(self, node: str | None = None) -> int:
        """Calls a killed server left open end at their last activity, "server stopped".

        With `node`, only that node's calls (and those recorded before calls named their
        node): nodes sharing a database each close their own, never another's live calls."""
        left_open: ColumnElement[bool] = Call.ended_at.is_(None)
        if node is not None:
            left_open &= (Call.node == node) | Call.node.is_(None)
        async with self.sessions.begin() as db:
            result = await db.execute(
                update(Call)
                .where(left_open)
                .values(ended_at=Call.last_activity_at, end_reason=SERVER_STOPPED)
                .execution_options(synchronize_session=False)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    # --- writes (from the writer task only) ------------------------------------------------

    async def write(self, item: Write) -> None:
        """One write, in its own transaction: committed when this returns."""
        async with self.sessions.begin() as db:
            match item:
                case CallOpened():
                    opened = _fields(item)
                    db.add(
                        Call(
                            **opened,
                            ended_at=None,
                            end_reason=None,
                            last_activity_at=item.started_at,
                        )
                    )
                case TurnEnded():
                    fields = _fields(item)
                    fields.update(fields.pop("stages"))
                    del fields["at"]
                    db.add(Turn(**fields))
                    await _touch(db, item.call_id, item.at)
                case ErrorMet():
                    fields = _fields(item)
                    del fields["at"]
                    db.add(CallError(**fields))
                    await _touch(db, item.call_id, item.at)
                case CallClosed():
                    await db.execute(
                        update(Call)
                        .where(Call.id == item.call_id)
                        .values(
                            ended_at=item.ended_at,
                            end_reason=item.end_reason,
                            last_activity_at=item.ended_at,
                        )
                    )

    async def delete_call(self, call_id: str) -> bool:
        async with self.sessions.begin() as db:
            await db.execute(delete(Turn).where(Turn.call_id == call_id))
            await db.execute(delete(CallError).where(CallError.call_id == call_id))
            result = await db.execute(delete(Call).where(Call.id == call_id))
        return bool(getattr(result, "rowcount", 0))

    async def calls_before(self, cutoff: datetime, limit: int = 500) -> list[str]:
        """Ids of calls that started before `cutoff` (retention), oldest first."""
        async with self.sessions() as db:
            rows = await db.scalars(
                select(Call.id).where(Call.started_at < cutoff).order_by(Call.started_at)
                .limit(limit)
            )  # fmt: skip
            return list(rows)

    # --- reads (the API) -------------------------------------------------------------------

    async def list_calls(
        self,
        *,
        limit: int,
        after: tuple[datetime, str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        transport: str | None = None,
    ) -> list[CallListing]:
        """Newest first; `after` is the (started_at, id) of the last call of the page before."""
        query = _with_counts()
        if after is not None:
            at, last_id = after
            query = query.where(
                (Call.started_at < at) | ((Call.started_at == at) & (Call.id < last_id))
            )
        if since is not None:
            query = query.where(Call.started_at >= since)
        if until is not None:
            query = query.where(Call.started_at < until)
        if transport is not None:
            query = query.where(Call.transport == transport)
        query = query.order_by(Call.started_at.desc(), Call.id.desc()).limit(limit)
        async with self.sessions() as db:
            rows = await db.execute(query)
            return [CallListing(call, turns, errors) for call, turns, errors in rows]

    async def get_call(self, call_id: str) -> CallDetail | None:
        async with self.sessions() as db:
            row = (await db.execute(_with_counts().where(Call.id == call_id))).first()
            if row is None:
                return None
            turns = await db.scalars(
                select(Turn).where(Turn.call_id == call_id).order_by(Turn.index)
            )
            errors = await db.scalars(
                select(CallError).where(CallError.call_id == call_id).order_by(CallError.at_s)
            )
            return CallDetail(CallListing(row[0], row[1], row[2]), list(turns), list(errors))


def _with_counts() -> Any:
    turns = select(func.count()).where(Turn.call_id == Call.id).scalar_subquery()
    errors = select(func.count()).where(CallError.call_id == Call.id).scalar_subquery()
    return select(Call, turns, errors)


async def _touch(db: AsyncSession, call_id: str, at: datetime) -> None:
    later = (Call.id == call_id) & (Call.last_activity_at < at)
    await db.execute(update(Call).where(later).values(last_activity_at=at))


def _fields(item: Write) -> dict[str, Any]:
    return {name: getattr(item, name) for name in item.__slots__}


def _upgrade(connection: Connection, revision: str) -> None:
    # Imported here: alembic logs as it loads (its plugins), which belongs after the server
    # has set up its log format, and only where migrations run.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL loses no commit when the process is killed; only a power cut can.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
