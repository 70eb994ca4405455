"""The many-nodes tests run real Redis, PostgreSQL and nginx (tests/cluster/services.py,
tests/records/postgres.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.records.postgres import PostgresServer, postgres_server

from .services import redis_server


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server
