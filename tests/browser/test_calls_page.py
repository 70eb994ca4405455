"""The /calls page in headless Chromium, against a real server that recorded a real call: the
list, the unheard part of the interrupted answer struck through, each turn's waterfall, and
the recording, which a click on a turn seeks to that turn."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley.records.recording import RECORDING_MEDIA_TYPE
from tests.conftest import Measure

from .chromium import chromium_page, compose
from .harness import Client, fake_providers, parley_site, wav

pytestmark = pytest.mark.asyncio

LONG = " ".join(f"word{i}" for i in range(24)) + "."  # 6 s of agent audio


async def interrupted_call(client: Client) -> None:
    """A question, a long answer interrupted 1 s in, a short second answer, a hangup."""
    await client.expect("connected")
    await client.say(wav(0.8))
    await client.expect("play_audio")
    await asyncio.sleep(1.0)
    await client.send({"type": "speech_start"})
    await client.expect("agent_paused")
    audio = base64.b64encode(wav(0.6)).decode()
    await client.send({"type": "speech_end", "audio": audio})
    first = (await client.expect("agent_response_done", 10)).message
    assert first["status"] == "interrupted"
    second = (await client.expect("agent_response_done", 10)).message
    assert second["status"] == "completed"
    await client.send({"type": "hangup"})
    await client.expect("session_ended")


async def recorded_call(http: httpx.AsyncClient, limit: float = 10.0) -> dict[str, Any]:
    """The call once its record is complete (the records writer commits in the background)."""
    deadline = time.monotonic() + limit
    while True:
        calls = (await http.get("/v1/calls")).json()["calls"]
        if calls and calls[0]["ended_at"] and calls[0]["turn_count"] == 2:
            detail: dict[str, Any] = (await http.get(f"/v1/calls/{calls[0]['id']}")).json()
            return detail
        assert time.monotonic() < deadline, f"the call's record is not complete: {calls}"
        await asyncio.sleep(0.05)


async def test_the_calls_page_shows_what_was_heard_and_plays_each_turn(
    tmp_path: Path, measured: Measure
) -> None:
    providers = fake_providers(["tell me a long story", "stop there please"], [LONG, "Okay."])
    records = {"data_dir": str(tmp_path / "data"), "recordings": True}
    async with parley_site(providers, records=records) as site:
        async with site.client() as client:
            await interrupted_call(client)
        await site.wait_for_no_sessions()
        async with httpx.AsyncClient(base_url=f"http://{site.host}") as http:
            call = await recorded_call(http)
            assert call["recording"] is True
            audio = await http.get(f"/v1/calls/{call['id']}/recording")
            assert audio.status_code == 200
            assert audio.headers["content-type"].startswith(RECORDING_MEDIA_TYPE)
        first, second = call["turns"]
        assert first["status"] == "interrupted" and second["status"] == "completed"
        assert LONG.startswith(first["heard_text"]) and first["heard_text"] != LONG

        microphone = tmp_path / "silence.wav"
        compose(microphone, [0.5])
        async with chromium_page(f"http://{site.host}/calls", microphone) as page:
            await page.wait_for_function("window.parleyCalls && window.parleyCalls.ready")
            rows = page.locator("#calls tr")
            assert await rows.count() == 1
            row_text = await rows.first.inner_text()
            assert "browser" in row_text and "caller hung up" in row_text
            assert await rows.first.locator(".badge.recorded").is_visible()

            await rows.first.click()
            await page.wait_for_function(f"window.parleyCalls.shown === '{call['id']}'")
            assert await page.locator("#recorded").is_visible()

            # The interrupted answer: heard words plain, the rest struck through.
            turns = page.locator("#turns > li")
            assert await turns.count() == 2
            heard = await turns.nth(0).locator(".line.agent .heard").inner_text()
            unheard = await turns.nth(0).locator(".line.agent del.unheard").inner_text()
            assert heard.strip() == first["heard_text"].strip()
            assert (heard + unheard).split() == LONG.split()
            assert await turns.nth(1).locator("del").count() == 0
            # Each turn has its waterfall, with the phases the live page draws.
            for index in range(2):
                bar = turns.nth(index).locator(".turn-latency .latency-bar .phase")
                assert await bar.count() >= 4
            total = await turns.nth(0).locator(".latency-total").inner_text()
            assert total.endswith(" ms")

            # The recording, with the turns marked: a click on the second plays from its start.
            await page.wait_for_function("document.getElementById('audio').readyState >= 1")
            duration = await page.evaluate("document.getElementById('audio').duration")
            measured("calls page: recording length minus call length",
                     (duration - call["duration_s"]) * 1000, "ms")  # fmt: skip
            assert abs(duration - call["duration_s"]) < 0.5
            marks = page.locator("#timeline .mark")
            assert await marks.count() == 2
            await marks.nth(1).click()
            at = await page.evaluate("document.getElementById('audio').currentTime")
            assert second["start_s"] - 0.05 <= at < second["start_s"] + 0.5, at
            await turns.nth(0).locator("button.play").click()
            at = await page.evaluate("document.getElementById('audio').currentTime")
            assert first["start_s"] - 0.05 <= at < first["start_s"] + 0.5, at
            await page.wait_for_function(
                "!document.getElementById('audio').paused"
                " && document.getElementById('audio').currentTime > 0"
            )

            shot = os.environ.get("PARLEY_CALLS_SCREENSHOT")  # docs/calls-page.png is made so
            if shot:
                await page.evaluate("document.getElementById('audio').pause()")
                await page.screenshot(path=shot, full_page=True)


async def test_with_an_access_token_the_page_asks_for_it_and_keeps_it_out_of_urls(
    tmp_path: Path,
) -> None:
    providers = fake_providers(["tell me a long story", "stop there please"], [LONG, "Okay."])
    records = {"data_dir": str(tmp_path / "data"), "recordings": True}
    secret = {"Authorization": "Bearer sesame"}
    async with parley_site(providers, records=records, access_token="sesame") as site:
        async with site.client(additional_headers=secret) as client:
            await interrupted_call(client)
        await site.wait_for_no_sessions()
        async with httpx.AsyncClient(base_url=f"http://{site.host}", headers=secret) as http:
            call = await recorded_call(http)
            bare = await http.get("/v1/calls", headers={"Authorization": ""})
            assert bare.status_code == 401

        microphone = tmp_path / "silence.wav"
        compose(microphone, [0.5])
        async with chromium_page(f"http://{site.host}/calls#{call['id']}", microphone) as page:
            await page.wait_for_function("window.parleyCalls && window.parleyCalls.ready")
            assert await page.locator("#token-form").is_visible()
            assert await page.locator("#calls tr").count() == 0
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            await page.fill("#token", "sesame")
            await page.click("#token-form button")
            await page.wait_for_function(f"window.parleyCalls.shown === '{call['id']}'")
            assert await page.locator("#calls tr").count() == 1
            # An <audio> element sends no header, and no token goes in a URL: the page fetched
            # the file with the header and plays it from memory.
            await page.wait_for_function("document.getElementById('audio').readyState >= 1")
            assert (await page.evaluate("document.getElementById('audio').src")).startswith("blob:")
            await page.locator("#timeline .mark").nth(1).click()
            at = await page.evaluate("document.getElementById('audio').currentTime")
            assert call["turns"][1]["start_s"] - 0.05 <= at < call["turns"][1]["start_s"] + 0.5
            assert not await page.locator("#notice").is_visible()
            assert any("/recording" in url for url in requested)
            assert not [url for url in requested if "sesame" in url or "token" in url]
