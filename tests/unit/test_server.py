"""The server skeleton: provider loading, /health, settings sources, access checks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from parley.server import create_app
from parley.server.state import ServerState
from parley.settings import Settings, load_settings

FAKES = {"vad": "energy", "stt": "fake", "llm": "fake", "tts": "fake"}


def fake_settings(**changes: object) -> Settings:
    return Settings.model_validate({**FAKES, **changes})


def wait_ready(client: TestClient) -> dict[str, object]:
    for _ in range(100):
        body: dict[str, object] = client.get("/health").json()
        if body["status"] != "loading":
            return body
        time.sleep(0.01)
    raise AssertionError("providers never finished loading")


def test_health_reports_each_provider_loaded() -> None:
    with TestClient(create_app(fake_settings())) as client:
        body = wait_ready(client)
        assert body["status"] == "ok"
        providers = body["providers"]
        assert isinstance(providers, dict)
        assert {k: v["name"] for k, v in providers.items()} == FAKES
        assert all(v["state"] == "ready" for v in providers.values())
        assert client.get("/health").status_code == 200


def test_health_names_a_provider_that_failed_to_load() -> None:
    with TestClient(create_app(fake_settings(stt="nonexistent"))) as client:
        body = wait_ready(client)
        assert body["status"] == "failed"
        providers = body["providers"]
        assert isinstance(providers, dict)
        assert "no stt provider named 'nonexistent'" in providers["stt"]["error"]
        assert client.get("/health").status_code == 503


def test_settings_precedence_flags_then_env_then_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "parley.toml"
    file.write_text('port = 9001\nllm = "fake"\n[session.policy]\nmin_silence_ms = 700\n')
    monkeypatch.setenv("PARLEY_PORT", "9002")
    settings = load_settings(file)
    assert settings.port == 9002  # env beats file
    assert settings.llm == "fake"  # file beats default
    assert settings.session.policy.min_silence_ms == 700
    assert load_settings(file, port=9003).port == 9003  # flags beat env
    monkeypatch.setenv("PARLEY_SESSION__POLICY__MERGE_GAP_MS", "350")
    assert load_settings(file).session.policy.merge_gap_ms == 350


def test_missing_settings_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="settings file not found"):
        load_settings(tmp_path / "nope.toml")


def test_secrets_do_not_print() -> None:
    settings = fake_settings(access_token="s3cret-token")
    assert "s3cret-token" not in repr(settings)
    assert "s3cret-token" not in settings.model_dump_json()


def state_with(**settings: object) -> ServerState:
    app = create_app(fake_settings(**settings))
    state: ServerState = app.state.parley
    return state


def test_access_token_and_origins() -> None:
    open_state = state_with()
    assert open_state.token_matches(None)
    locked = state_with(access_token="abc")
    assert locked.token_matches("abc")
    assert not locked.token_matches("abd")
    assert not locked.token_matches(None)
    assert open_state.origin_allowed(None, "localhost:8000")  # not a browser
    assert open_state.origin_allowed("http://localhost:8000", "localhost:8000")
    assert not open_state.origin_allowed("https://evil.example", "localhost:8000")
    listed = state_with(allowed_origins=["https://app.example"])
    assert listed.origin_allowed("https://app.example", "localhost:8000")


def test_a_turn_detector_named_by_the_policy_loads_and_reaches_sessions() -> None:
    policy = {"session": {"policy": {"turn_detector": "fake"}}}
    with TestClient(create_app(fake_settings(**policy))) as client:
        body = wait_ready(client)
        assert body["status"] == "ok"
        providers = body["providers"]
        assert isinstance(providers, dict)
        assert providers["turn"] == {**providers["turn"], "name": "fake", "state": "ready"}


def test_a_turn_detector_that_fails_to_load_leaves_the_server_up() -> None:
    policy = {"session": {"policy": {"turn_detector": "nonexistent"}}}
    with TestClient(create_app(fake_settings(**policy))) as client:
        body = wait_ready(client)
        assert body["status"] == "ok"  # sessions end turns by silence
        providers = body["providers"]
        assert isinstance(providers, dict)
        assert "no turn provider named 'nonexistent'" in providers["turn"]["error"]
