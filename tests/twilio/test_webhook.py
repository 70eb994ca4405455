"""POST /twilio/voice: TwiML that connects the call, signatures checked when a token is set."""

from __future__ import annotations

import base64
import time
import xml.etree.ElementTree as ET
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from parley.server import create_app
from parley.settings import Settings
from parley.transports.twilio.stream_token import call_token

from .harness import AUTH_TOKEN, fake_providers

CALL = {"CallSid": "CA" + "1" * 32, "AccountSid": "AC" + "2" * 32, "From": "+15551230001",
        "To": "+15551230002", "CallStatus": "ringing", "Direction": "inbound"}  # fmt: skip


def client(**twilio: Any) -> TestClient:
    settings = Settings.model_validate(
        {"vad": "energy", "stt": "fake", "llm": "fake", "tts": "fake", "twilio": twilio}
    )
    return TestClient(create_app(settings, providers=fake_providers([], [])))


def stream_of(body: str) -> tuple[str, dict[str, str]]:
    root = ET.fromstring(body)
    stream = root.find("./Connect/Stream")
    assert stream is not None, body
    parameters = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    return stream.attrib["url"], parameters


def test_answers_twiml_that_connects_the_call_to_the_media_stream() -> None:
    with client() as http:
        response = http.post("/twilio/voice", data=CALL)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    url, parameters = stream_of(response.text)
    assert url == "wss://testserver/twilio/media"
    assert parameters == {"from": CALL["From"], "to": CALL["To"]}


def test_the_public_host_names_the_stream_behind_a_tunnel() -> None:
    with client(public_host="abc.tunnel.example") as http:
        response = http.post("/twilio/voice", data=CALL)
    assert stream_of(response.text)[0] == "wss://abc.tunnel.example/twilio/media"


def test_with_an_auth_token_only_signed_requests_are_answered() -> None:
    host = "abc.tunnel.example"
    signed_url = f"https://{host}/twilio/voice"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(signed_url, CALL)
    with client(auth_token=AUTH_TOKEN, public_host=host) as http:
        unsigned = http.post("/twilio/voice", data=CALL)
        wrong = http.post("/twilio/voice", data=CALL, headers={"X-Twilio-Signature": "AAAA"})
        tampered = http.post(
            "/twilio/voice", data={**CALL, "From": "+15559999999"},
            headers={"X-Twilio-Signature": signature},
        )  # fmt: skip
        good = http.post("/twilio/voice", data=CALL, headers={"X-Twilio-Signature": signature})
    assert unsigned.status_code == 403 and "no X-Twilio-Signature" in unsigned.text
    assert wrong.status_code == 403 and "wrong X-Twilio-Signature" in wrong.text
    assert tampered.status_code == 403
    assert good.status_code == 200
    _, parameters = stream_of(good.text)
    assert parameters["parley_token"] == call_token(SecretStr(AUTH_TOKEN), CALL["CallSid"])
    assert AUTH_TOKEN not in good.text


def test_a_server_whose_providers_failed_says_so_and_hangs_up() -> None:
    settings = Settings.model_validate(
        {"vad": "energy", "stt": "nonexistent", "llm": "fake", "tts": "fake"}
    )
    with TestClient(create_app(settings)) as http:
        for _ in range(100):
            if http.get("/health").json()["status"] != "loading":
                break
            time.sleep(0.01)
        response = http.post("/twilio/voice", data=CALL)
    root = ET.fromstring(response.text)
    assert response.status_code == 200
    assert root.find("Say") is not None and root.find("Hangup") is not None
    assert root.find("Connect") is None


ACCESS_TOKEN = "access-token-not-a-secret"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_with_only_an_access_token_the_webhook_needs_it_as_the_basic_password() -> None:
    settings = Settings.model_validate({"vad": "energy", "stt": "fake", "llm": "fake",
                                        "tts": "fake", "access_token": ACCESS_TOKEN})  # fmt: skip
    with TestClient(create_app(settings, providers=fake_providers([], []))) as http:
        bare = http.post("/twilio/voice", data=CALL)
        wrong = http.post("/twilio/voice", data=CALL, headers=basic("twilio", "guess"))
        bearer = http.post(
            "/twilio/voice", data=CALL, headers={"Authorization": f"Bearer {ACCESS_TOKEN}"}
        )
        good = http.post("/twilio/voice", data=CALL, headers=basic("twilio", ACCESS_TOKEN))
    for refused in (bare, wrong, bearer):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Basic realm="parley"'
    assert good.status_code == 200
    _, parameters = stream_of(good.text)
    assert parameters["parley_token"] == call_token(SecretStr(ACCESS_TOKEN), CALL["CallSid"])
    assert ACCESS_TOKEN not in good.text
