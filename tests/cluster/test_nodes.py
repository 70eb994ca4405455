"""Many nodes for real: two `parley serve` processes (one with two workers, one with one)
sharing a real Redis and PostgreSQL behind a real nginx. A Twilio-protocol call through the
balancer is listed by both nodes, its events stream from the node that does not hold it, the
agent says a given text through that node, the call is hung up through that node's API within
1 s, and its record is in PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import httpx

from parley.records.store import CallListing, Store
from tests.records.postgres import PostgresServer
from tests.serving import FAKE_PROVIDERS, ServeProcess, parley_serve
from tests.twilio.harness import caller_on_hold

from .services import nginx


def node(
    name: str, workers: int, redis_url: str, database_url: str
) -> contextlib.AbstractAsyncContextManager[ServeProcess]:
    return parley_serve(*FAKE_PROVIDERS, workers=workers, env={
        "PARLEY_CLUSTER__REDIS_URL": redis_url,
        "PARLEY_CLUSTER__NODE_ID": name,
        "PARLEY_CLUSTER__HEARTBEAT_S": "0.5",
        "PARLEY_RECORDS__DATABASE_URL": database_url,
        "PARLEY_FAKE__LLM_REPLIES": json.dumps(["Sure, it is noon."]),
        "PARLEY_FAKE__STT_TRANSCRIPT": "what time is it",
    })  # fmt: skip


async def listing(http: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await http.get("/v1/sessions")
    assert response.status_code == 200, response.text
    return {s["id"]: s for s in response.json()["sessions"]}


async def call_record(database: str, call_sid: str) -> CallListing:
    """The record of the Twilio call `call_sid` in the nodes' shared database."""
    store = Store(database)
    try:
        [record] = [c for c in await store.list_calls(limit=10)
                    if c.call.twilio_call_sid == call_sid]  # fmt: skip
    finally:
        await store.aclose()
    return record


async def sse_events(http: httpx.AsyncClient, path: str, into: list[dict[str, Any]]) -> None:
    async with http.stream("GET", path) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                into.append(json.loads(line.removeprefix("data: ")))
                if into[-1]["type"] == "session_ended":
                    return


async def test_a_call_through_the_balancer_is_listed_and_hung_up_from_the_other_node(
    redis_url: str, postgres: PostgresServer
) -> None:
    database = postgres.create_database("parley_nodes")
    # A starts (and migrates the database) before B
    async with (
        node("node-a", 2, redis_url, database) as served_a,
        node("node-b", 1, redis_url, database) as served_b,
        contextlib.AsyncExitStack() as s,
    ):
        a, b = served_a.host, served_b.host
        balancer = s.enter_context(nginx([a, b]))
        node_a = await s.enter_async_context(httpx.AsyncClient(base_url=f"http://{a}"))
        node_b = await s.enter_async_context(httpx.AsyncClient(base_url=f"http://{b}"))
        caller = caller_on_hold(f"ws://{balancer}/twilio/media")  # till the API hangs up
        call = asyncio.create_task(caller.run())
        session_id = f"twilio-{caller.call_sid}"
        for _ in range(200):
            seen = [await listing(node_a), await listing(node_b)]
            if all(session_id in found for found in seen):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"not listed by both nodes: {seen}")
        info = seen[0][session_id]
        assert info == seen[1][session_id] | {"phase": info["phase"]}
        assert info["transport"] == "twilio" and info["twilio_call_sid"] == caller.call_sid
        holder, other = (node_a, node_b) if info["node"].startswith("node-a-") else (
            node_b, node_a)  # fmt: skip
        assert info["node"].startswith(("node-a-", "node-b-"))

        # A node that starts now (its parent recovers before its workers serve) closes only
        # its own calls left open: this live call, another node's, stays open in the records.
        async with node("node-c", 2, redis_url, database):
            live = await call_record(database, caller.call_sid)
            assert live.call.ended_at is None and live.call.end_reason is None
            assert info["node"].startswith(f"{live.call.node}-"), live.call.node

        events: list[dict[str, Any]] = []
        watch = asyncio.create_task(sse_events(other, f"/v1/sessions/{session_id}/events",
                                               events))  # fmt: skip
        await asyncio.sleep(0.5)  # the watcher is subscribed
        assert (await other.post("/v1/sessions/nope/hangup")).status_code == 404
        said = await other.post(f"/v1/sessions/{session_id}/say", json={"text": "One moment."})
        assert said.status_code == 202, said.text
        for _ in range(100):  # the agent said it, as it is, on the other node
            done = [e for e in events if e["type"] == "agent_response_done"]
            if any(e["text"] == "One moment." for e in done):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"not said: {events}")
        asked = time.monotonic()
        response = await other.post(f"/v1/sessions/{session_id}/hangup")
        assert response.status_code == 202, response.text
        await asyncio.wait_for(call, 5)
        hung_up_in = time.monotonic() - asked
        assert hung_up_in < 1.0, hung_up_in
        print(f"hung up through the other node in {hung_up_in * 1000:.0f} ms")
        await asyncio.wait_for(watch, 5)
        assert events[-1] == {"type": "session_ended", "reason": "hung up through the API"}
        for _ in range(100):  # gone from the list on both nodes
            lists = [await listing(holder), await listing(other)]
            if all(session_id not in found for found in lists):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("still listed after the hangup")

    record = await call_record(database, caller.call_sid)
    assert record.call.end_reason == "hung up through the API", record.call.end_reason
    assert record.call.ended_at is not None
