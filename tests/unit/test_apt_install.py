"""The setup scripts' Debian installs (scripts/apt-install.sh): the package lists are
refreshed once per `make setup`, and a machine that has everything runs no apt-get at all.
A stand-in apt-get (and sudo) on PATH records what would have run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture
def apt_log(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    (bin_dir / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
    for shim in bin_dir.iterdir():
        shim.chmod(0o755)
    log.touch()
    return log


def run(apt_log: Path, script: str, *args: str, stamp: Path | None = None) -> str:
    env = {**os.environ, "PATH": f"{apt_log.parent / 'bin'}:{os.environ['PATH']}"}
    env.pop("PARLEY_APT_UPDATED", None)
    if stamp is not None:
        env["PARLEY_APT_UPDATED"] = str(stamp)
    done = subprocess.run(
        ["bash", str(SCRIPTS / script), *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def calls(apt_log: Path) -> list[str]:
    return apt_log.read_text().splitlines()


def test_one_setup_refreshes_the_lists_once_however_many_scripts_install(
    apt_log: Path, tmp_path: Path
) -> None:
    stamp = tmp_path / "apt-updated"
    run(apt_log, "apt-install.sh", "first", "it fails", "pkg-a", stamp=stamp)
    run(apt_log, "apt-install.sh", "--no-install-recommends", "second", "x", "pkg-b", stamp=stamp)
    assert calls(apt_log) == [
        "update -qq",
        "install -y -qq pkg-a",
        "install -y -qq --no-install-recommends pkg-b",
    ]


def test_run_by_hand_it_refreshes_the_lists_before_installing(apt_log: Path) -> None:
    run(apt_log, "apt-install.sh", "by-hand", "it fails", "pkg-a", "pkg-b")
    assert calls(apt_log) == ["update -qq", "install -y -qq pkg-a pkg-b"]


def test_nothing_to_install_runs_no_apt_get(apt_log: Path, tmp_path: Path) -> None:
    run(apt_log, "apt-install.sh", "none", "nothing", stamp=tmp_path / "apt-updated")
    assert calls(apt_log) == []


@pytest.mark.parametrize("script", ["install-services.sh", "install-desktop.sh"])
def test_a_machine_that_has_everything_runs_no_apt_get(apt_log: Path, script: str) -> None:
    said = run(apt_log, script)
    if "installing from Debian" in said:
        pytest.skip(f"{script}: not everything is installed here ({said.strip()})")
    assert calls(apt_log) == []
