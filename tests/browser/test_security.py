"""Who may open a session on WS /ws: the access token, allowed origins, a server not ready."""

from __future__ import annotations

import base64
import logging

import pytest

from parley.server import create_app
from tests.serving import serving

from .harness import Client, fake_providers, parley_site, settings

pytestmark = pytest.mark.asyncio
TOKEN = "s3cret-tøken/with+odd=chars"


def subprotocol_token(token: str) -> str:
    encoded = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
    return f"token.{encoded}"


async def refused(client: Client, code: str, close_code: int = 1008) -> str:
    error = (await client.expect("error")).message
    assert error["code"] == code
    assert await client.next() is None
    assert client.ws.close_code == close_code
    assert "connected" not in client.events()
    return str(error["message"])


async def test_the_access_token_is_required_when_set(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="parley")
    async with parley_site(fake_providers(), access_token=TOKEN) as site:
        async with site.client(subprotocols=["parley"]) as client:
            message = await refused(client, "unauthorized")
            assert "token" in message
        async with site.client(additional_headers={"Authorization": "Bearer wrong"}) as client:
            await refused(client, "unauthorized")
        async with site.client(subprotocols=["parley", subprotocol_token("wrong")]) as client:
            await refused(client, "unauthorized")
        assert len(site.state.sessions) == 0

        async with site.client(additional_headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            await client.expect("connected")
        offers = ["parley", subprotocol_token(TOKEN)]
        async with site.client(subprotocols=offers) as client:  # how the page does it
            await client.expect("connected")
            assert client.ws.subprotocol == "parley"
    logged = "".join(r.getMessage() for r in caplog.records if r.name.startswith("parley"))
    everything = logged + "".join(str(r.message) for r in client.received)
    assert TOKEN not in everything
    assert subprotocol_token(TOKEN) not in everything


async def test_other_origins_are_refused_unless_allowed() -> None:
    allowed = ["https://app.example.com"]
    async with parley_site(fake_providers(), allowed_origins=allowed) as site:
        async with site.client(origin="https://evil.example.net") as client:
            message = await refused(client, "origin_not_allowed")
            assert "evil.example.net" in message
        for origin in (f"http://{site.host}", "https://app.example.com"):
            async with site.client(origin=origin) as client:
                await client.expect("connected")
        async with site.client() as client:  # not a browser: no Origin, judged by the token
            await client.expect("connected")


async def test_a_server_still_loading_says_so() -> None:
    app = create_app(settings(stt="no-such-stt"))  # this provider fails to load
    async with serving(app) as host, Client.open(f"ws://{host}/ws") as client:
        message = await refused(client, "not_ready", close_code=1013)
        assert "/health" in message


async def test_a_message_past_the_server_limit_closes_only_that_connection() -> None:
    """Above 16 MiB uvicorn itself closes the connection (1009); the server goes on."""
    async with parley_site(fake_providers()) as site:
        async with site.client() as client:
            await client.expect("connected")
            await client.send("x" * (17 * 1024 * 1024))
            assert await client.next() is None
            assert client.ws.close_code == 1009
        await site.wait_for_no_sessions()
        async with site.client() as client:
            await client.expect("connected")
