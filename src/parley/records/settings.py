"""The `[records]` settings section: where call records go and how long they stay."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class RecordsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Keep a record of every call (docs/records.md).")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy async URL (`postgresql+asyncpg://user:pw@host/db`); None: "
        "SQLite at `<data_dir>/parley.db`.",
    )
    data_dir: Path = Field(
        Path("data"), description="The SQLite file and recordings (relative to the cwd)."
    )
    recordings: bool = Field(False, description="Record each call's audio (stereo file).")
    retention_days: int | None = Field(
        None, ge=1, description="Delete calls (rows and recordings) older than this; None: keep."
    )
    queue_size: int = Field(
        1000, ge=1, description="Writes pending past this are dropped and counted."
    )
    recover_at_start: bool = Field(
        True,
        description="At start, close the calls a killed server left open: with "
        "`cluster.redis_url` set, only this node's (cluster.node_id), never other nodes' live "
        "calls. A node's workers leave it to the node's parent, which does it once before they "
        "start: a worker that starts (or restarts) must not close its siblings' live calls.",
    )

    def url(self) -> str:
        """The database URL in force."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'parley.db').resolve()}"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"
