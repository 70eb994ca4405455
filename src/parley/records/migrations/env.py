"""Alembic's environment for the call records: always run with a connection the store
hands over (`store.migrate`), never from a URL of its own."""

from __future__ import annotations

from alembic import context

from parley.records.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
