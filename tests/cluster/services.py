"""Real Redis and nginx for the many-nodes tests: Debian's binaries started in a temporary
directory on free loopback ports, stopped (and the directory removed) afterwards.
`scripts/install-services.sh` installs them. Without them the tests fail naming the fix (with
PARLEY_ALLOW_SKIP set they skip)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.serving import free_port


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None
    )
    if found is None:
        message = f"{name} is not installed: run scripts/install-services.sh (make setup)"
        if os.environ.get("PARLEY_ALLOW_SKIP"):
            pytest.skip(message)
        pytest.fail(message)
    return found


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway Redis without persistence; yields its URL."""
    binary = _binary("redis-server")
    folder = Path(tempfile.mkdtemp(prefix="parley-redis-"))
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(folder), "--daemonize", "no", "--logfile", str(folder / "log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_port(port, process, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


# The balancer's configuration that ships (deploy/compose.yaml mounts it): the tests run this
# very file, with only its two node addresses and its listening address replaced.
DEPLOYED_SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "parley.conf"
_NODE_LINE = re.compile(r"^(?P<indent>\s*)server parley-[a-z]+:8000(?P<options>[^;]*);$")
_LISTEN_LINE = re.compile(r"^(?P<indent>\s*)listen 80;$")

# What differs on a test machine: a prefix of its own for the pid, logs and temporary files.
NGINX_MAIN = """\
{user}
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/parley.conf;
}}
"""


def render_site(upstreams: Sequence[str], listen: str) -> str:
    """deploy/nginx/parley.conf with `upstreams` (host:port) for its nodes and `listen`."""
    lines: list[str] = []
    nodes = listens = 0
    for line in DEPLOYED_SITE.read_text().splitlines():
        if node := _NODE_LINE.match(line):
            nodes += 1
            if nodes == 1:  # every upstream takes the first node's options
                indent, options = node["indent"], node["options"]
                lines += [f"{indent}server {upstream}{options};" for upstream in upstreams]
        elif address := _LISTEN_LINE.match(line):
            listens += 1
            lines.append(f"{address['indent']}listen {listen};")
        else:
            lines.append(line)
    if nodes != 2 or listens != 1:
        raise ValueError(
            f"{DEPLOYED_SITE}: expected two `server parley-...:8000` lines and one "
            f"`listen 80;`, found {nodes} and {listens}"
        )
    return "\n".join(lines) + "\n"


def write_nginx_conf(folder: Path, upstreams: Sequence[str], listen: str) -> Path:
    """The main configuration (test prefix) and the deployed site beside it; the main path."""
    (folder / "parley.conf").write_text(render_site(upstreams, listen))
    user = "user root;" if os.getuid() == 0 else ""
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_MAIN.format(user=user, folder=folder))
    return conf


@contextlib.contextmanager
def nginx(upstreams: Sequence[str]) -> Iterator[str]:
    """nginx with the deployed site (deploy/nginx/parley.conf) balancing `upstreams`
    (host:port); yields its host:port."""
    binary = _binary("nginx")
    folder = Path(tempfile.mkdtemp(prefix="parley-nginx-"))
    port = free_port()
    conf = write_nginx_conf(folder, upstreams, f"127.0.0.1:{port}")
    process = subprocess.Popen(
        [binary, "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_port(port, process, "nginx")
        yield f"127.0.0.1:{port}"
    finally:
        _stop(process)
        shutil.rmtree(folder, ignore_errors=True)
