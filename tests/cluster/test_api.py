"""The live calls API's guard and its answers for what is not there (one node, no Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from parley.server import create_app
from parley.session.config import Providers
from parley.settings import Settings
from parley.testing.fakes import EnergyVAD, FakeLLM, FakeSTT, FakeTTS

TOKEN = "t0ken-for-tests"


@pytest.fixture
def http(tmp_path: Path) -> Iterator[TestClient]:
    config = {"vad": "energy", "stt": "fake", "llm": "fake", "tts": "fake",
              "access_token": TOKEN, "records": {"data_dir": str(tmp_path)}}  # fmt: skip
    providers = Providers(EnergyVAD(), FakeSTT([]), FakeLLM([]), FakeTTS())
    with TestClient(create_app(Settings.model_validate(config), providers=providers)) as client:
        yield client


def test_the_access_token_guards_every_route(http: TestClient) -> None:
    routes = [("GET", "/v1/sessions"), ("POST", "/v1/sessions/x/hangup"),
              ("POST", "/v1/sessions/x/say"), ("GET", "/v1/sessions/x/events")]  # fmt: skip
    for method, path in routes:
        assert http.request(method, path).status_code == 401, path
        wrong = http.request(method, path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401, path
    assert http.get(f"/v1/sessions?token={TOKEN}").json() == {"sessions": []}


def test_unknown_sessions_and_bad_bodies_are_clear_errors(http: TestClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert http.post("/v1/sessions/nope/hangup", headers=auth).status_code == 404
    assert http.post("/v1/sessions/nope/say", headers=auth, json={"text": "hi"}).status_code == 404
    assert http.get("/v1/sessions/nope/events", headers=auth).status_code == 404
    assert http.post(f"/v1/sessions/{'x' * 5000}/hangup", headers=auth).status_code == 404
    for body in ({}, {"text": ""}, {"text": "x" * 4001}, {"text": 5}):
        response = http.post("/v1/sessions/nope/say", headers=auth, json=body)
        assert response.status_code == 422, body
