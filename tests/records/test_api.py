"""GET/DELETE /v1/calls: pages newest first, filters, one call with its turns, the recording,
delete (rows and file), the access token, and 404s."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from parley.records.rows import CallClosed, CallOpened, Write
from parley.records.store import Store
from parley.server import create_app
from parley.session.config import Providers
from parley.settings import Settings
from parley.testing.fakes import FakeLLM, FakeSTT, FakeTTS
from parley.testing.fakes.vad import EnergyVAD

from .rows import T0, error, opened, turn

TOKEN = "records-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def write_all(folder: Path, items: list[Write]) -> None:
    async def run() -> None:
        store = Store(f"sqlite+aiosqlite:///{folder / 'parley.db'}")
        await store.migrate()
        for item in items:
            await store.write(item)
        await store.aclose()

    asyncio.run(run())


def app_for(folder: Path, **settings: Any) -> TestClient:
    config = {"vad": "energy", "stt": "fake", "llm": "fake", "tts": "fake",
              "access_token": TOKEN, "records": {"data_dir": str(folder)}, **settings}  # fmt: skip
    providers = Providers(EnergyVAD(), FakeSTT([]), FakeLLM([]), FakeTTS())
    return TestClient(create_app(Settings.model_validate(config), providers=providers))


@pytest.fixture
def calls(tmp_path: Path) -> list[CallOpened]:
    made = [opened(T0 + timedelta(minutes=i), "twilio" if i % 2 else "browser") for i in range(5)]
    items: list[Write] = []
    for call in made:
        items += [call, turn(call, 0, 4.5), turn(call, 1, 9.0, "interrupted"), error(call, 3.2)]
        ended = call.started_at + timedelta(seconds=12.5)
        items.append(CallClosed(call.id, ended, "caller hung up"))
    write_all(tmp_path, items)
    return made


@pytest.fixture
def http(tmp_path: Path, calls: list[CallOpened]) -> Iterator[TestClient]:
    with app_for(tmp_path) as client:
        yield client


def test_pages_are_newest_first_and_cover_every_call(
    http: TestClient, calls: list[CallOpened]
) -> None:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = http.get("/v1/calls", params=params, headers=AUTH).json()
        seen += [c["id"] for c in body["calls"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [c.id for c in reversed(calls)]


def test_a_summary_says_what_the_contract_says(http: TestClient, calls: list[CallOpened]) -> None:
    newest = http.get("/v1/calls", params={"limit": 1}, headers=AUTH).json()["calls"][0]
    call = calls[-1]
    assert newest == {
        "id": call.id, "transport": "browser", "started_at": "2026-11-30T12:04:00.000Z",
        "ended_at": "2026-11-30T12:04:12.500Z", "end_reason": "caller hung up",
        "duration_s": 12.5, "twilio": None, "providers": call.providers, "recording": False,
        "turn_count": 2, "error_count": 1,
    }  # fmt: skip
    twilio = http.get("/v1/calls", params={"transport": "twilio"}, headers=AUTH).json()["calls"]
    assert [c["id"] for c in twilio] == [calls[3].id, calls[1].id]
    assert twilio[0]["twilio"] == {
        "call_sid": "CA" + "0" * 32, "from": "+15550001111", "to": "+15550002222",
    }  # fmt: skip


def test_filters_by_time(http: TestClient, calls: list[CallOpened]) -> None:
    params = {"since": "2026-11-30T12:01:00Z", "until": "2026-11-30T12:03:00Z"}
    body = http.get("/v1/calls", params=params, headers=AUTH).json()
    assert [c["id"] for c in body["calls"]] == [calls[2].id, calls[1].id]
    assert http.get("/v1/calls", params={"transport": "fax"}, headers=AUTH).status_code == 422
    assert http.get("/v1/calls", params={"cursor": "bm9wZQ"}, headers=AUTH).status_code == 400


def test_one_call_has_its_turns_and_errors(http: TestClient, calls: list[CallOpened]) -> None:
    body = http.get(f"/v1/calls/{calls[0].id}", headers=AUTH).json()
    assert body["policy"] == {"min_silence_ms": 500}
    assert body["errors"] == [{"at_s": 3.2, "code": "stt_failed", "message": "oops"}]
    first, second = body["turns"]
    assert first["index"] == 0 and first["status"] == "completed" and not first["interrupted"]
    assert (first["start_s"], first["end_s"]) == (1.5, 4.5)
    assert first["timings"]["committed"] == 2.5 and first["timings"]["llm_first_token"] is None
    assert len(first["timings"]) == 12
    assert second["interrupted"] and second["heard_text"] == "the whole 1"
    assert (first["pauses"], first["resumes"]) == (1, 1)


def test_unknown_calls_are_404(http: TestClient) -> None:
    for path in ("/v1/calls/" + "f" * 32, "/v1/calls/not-an-id", "/v1/calls/../etc"):
        response = http.get(path, headers=AUTH)
        assert response.status_code == 404
    assert http.get("/v1/calls/" + "f" * 32, headers=AUTH).json() == {"detail": "no such call"}
    assert http.delete("/v1/calls/" + "f" * 32, headers=AUTH).status_code == 404


def test_the_token_guards_every_route(http: TestClient, calls: list[CallOpened]) -> None:
    one = f"/v1/calls/{calls[0].id}"
    for method, path in (("GET", "/v1/calls"), ("GET", one), ("GET", f"{one}/recording"),
                         ("DELETE", one)):  # fmt: skip
        assert http.request(method, path).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert http.request(method, path, headers=wrong).status_code == 401
    assert http.get("/v1/calls", params={"token": TOKEN}).status_code == 200
    assert http.get(one, headers=AUTH).status_code == 200


def test_recording_is_served_and_delete_removes_it(
    http: TestClient, calls: list[CallOpened], tmp_path: Path
) -> None:
    call = calls[0]
    folder = tmp_path / "recordings"
    folder.mkdir()
    path = folder / f"{call.id}.ogg"
    path.write_bytes(b"OggS" + bytes(100))
    response = http.get(f"/v1/calls/{call.id}/recording", headers=AUTH)
    assert response.status_code == 200 and response.content == path.read_bytes()
    assert response.headers["content-type"] == "audio/ogg"
    assert http.get(f"/v1/calls/{calls[1].id}/recording", headers=AUTH).status_code == 404

    assert http.delete(f"/v1/calls/{call.id}", headers=AUTH).status_code == 204
    assert not path.exists()
    assert http.get(f"/v1/calls/{call.id}", headers=AUTH).status_code == 404
    assert http.get(f"/v1/calls/{call.id}/recording", headers=AUTH).status_code == 404
    assert len(http.get("/v1/calls", headers=AUTH).json()["calls"]) == 4


def test_records_off_is_404(tmp_path: Path) -> None:
    with app_for(tmp_path, records={"enabled": False}) as client:
        response = client.get("/v1/calls", headers=AUTH)
    assert response.status_code == 404 and "off" in response.json()["detail"]
    assert not (tmp_path / "parley.db").exists()
