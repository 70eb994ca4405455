"""A real PostgreSQL server for the tests: Debian's binaries started in a temporary
directory on a free loopback port, stopped (and the directory removed) afterwards.

`scripts/install-services.sh` (run by `make setup`) installs the package. initdb refuses to
run as root, so as root the server runs as the `postgres` user the package creates. Without
the binaries the tests that need the server fail, naming the fix; with PARLEY_ALLOW_SKIP set
they skip instead.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.serving import free_port


@dataclass(frozen=True)
class PostgresServer:
    bin: Path
    port: int
    user: str

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        subprocess.run(
            [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
             "-U", self.user, name],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        return self.url(name)


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        message = (
            "PostgreSQL is not installed: run scripts/install-services.sh (make setup), "
            "or set PARLEY_ALLOW_SKIP=1 to skip the PostgreSQL tests"
        )
        if os.environ.get("PARLEY_ALLOW_SKIP"):
            pytest.skip(message)
        pytest.fail(message)
    as_user: dict[str, Any] = {}
    folder = Path(tempfile.mkdtemp(prefix="parley-postgres-"))
    if os.getuid() == 0:  # initdb refuses root: run the server as the package's user
        account = pwd.getpwnam("postgres")
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    data, port = folder / "data", free_port()
    ctl = str(bin_dir / "pg_ctl")
    try:
        subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
             "--no-sync", "-E", "UTF8"],
            check=True, capture_output=True, timeout=120, cwd=folder, **as_user,
        )  # fmt: skip
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [ctl, "start", "-w", "-t", "60", "-D", str(data), "-o", options,
             "-l", str(folder / "log")],
            check=True, capture_output=True, timeout=90, cwd=folder, **as_user,
        )  # fmt: skip
        try:
            yield PostgresServer(bin_dir, port, "postgres")
        finally:
            subprocess.run([ctl, "stop", "-w", "-m", "fast", "-D", str(data)],
                           capture_output=True, timeout=60, cwd=folder, **as_user)  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)
