"""parley.cluster against a real Redis: members in one process standing for two nodes, each
with a real session (fake providers, in-memory transport). A member that stops beating drops
out of the list after its TTL; commands and events reach the member holding the call; a Redis
that is down costs the API a 503 and the call nothing."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from parley.cluster import ClusterNode, ClusterSettings, ClusterUnavailableError, LiveSessions
from parley.events import AgentResponseDone
from parley.server.sessions import SessionManager
from parley.session import Session
from parley.testing.fakes.llm import FakeLLM
from parley.testing.memory_transport import MemoryTransport
from tests.serving import free_port
from tests.twilio.harness import fake_providers

TTL = 1.0
BEAT = 0.2


@dataclass
class Member:
    node: ClusterNode
    manager: SessionManager
    live: LiveSessions


@contextlib.asynccontextmanager
async def member(redis_url: str | None, name: str) -> AsyncIterator[Member]:
    settings = ClusterSettings(redis_url=redis_url, heartbeat_s=BEAT, node_ttl_s=TTL)
    live = LiveSessions(f"{name}-{uuid.uuid4().hex[:6]}")
    manager = SessionManager()
    manager.on_start.append(live.started)
    manager.on_end.append(live.ended)
    node = ClusterNode(settings, live)
    await node.start()
    try:
        yield Member(node, manager, live)
    finally:
        await manager.close_all(3.0)
        await node.aclose()


async def call_on(where: Member) -> tuple[Session, MemoryTransport, asyncio.Task[None]]:
    transport = MemoryTransport()
    providers = fake_providers([], [])
    providers = providers.__class__(providers.vad, providers.stt, FakeLLM(), providers.tts)
    session = Session(transport, providers, session_id=f"call-{uuid.uuid4().hex[:8]}")
    where.live.attach(session, "memory", {"twilio_call_sid": "CA" + "0" * 32})
    task = asyncio.create_task(where.manager.run(session))
    await asyncio.sleep(0.05)
    return session, transport, task


async def listed(node: ClusterNode) -> set[str]:
    return {info.id for info in await node.sessions()}


async def until(predicate: Callable[[], Awaitable[bool]], within: float = 5.0) -> float:
    """Seconds until the async `predicate()` is true."""
    start = time.monotonic()
    while not await predicate():
        if time.monotonic() - start > within:
            raise AssertionError("not within the timeout")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_a_dead_members_sessions_drop_out_after_its_ttl(redis_url: str) -> None:
    async with member(redis_url, "a") as a, member(redis_url, "b") as b:
        session, _, _ = await call_on(a)
        await until(lambda: _has(b.node, session.id))
        [info] = [i for i in await b.node.sessions() if i.id == session.id]
        assert info.node == a.live.node and info.transport == "memory"
        assert info.twilio_call_sid == "CA" + "0" * 32 and info.phase == "idle"
        events = await b.node.events(session.id)
        assert events is not None
        for task in a.node._tasks:  # the member dies: no more beats, its key left to expire
            task.cancel()
        died = time.monotonic()
        await until(lambda: _gone(b.node, session.id), within=TTL + 2)
        gone_after = time.monotonic() - died
        # A watcher on another member is not left waiting on a call nobody holds.
        last = (await asyncio.wait_for(collect(events), TTL + 3))[-1]
        assert last == {"type": "stream_ended", "reason": "the call is no longer listed"}
        assert TTL - BEAT - 0.1 <= gone_after <= TTL + 0.5, gone_after
        print(f"a dead member's call left the list {gone_after:.2f} s after it stopped beating")


async def collect(events: AsyncIterator[dict[str, object]]) -> list[dict[str, object]]:
    return [event async for event in events]


async def _has(node: ClusterNode, session_id: str) -> bool:
    return session_id in await listed(node)


async def _gone(node: ClusterNode, session_id: str) -> bool:
    return session_id not in await listed(node)


async def test_hangup_and_say_reach_the_member_holding_the_call(redis_url: str) -> None:
    async with member(redis_url, "a") as a, member(redis_url, "b") as b:
        session, transport, task = await call_on(a)
        await until(lambda: _has(b.node, session.id))
        events = await b.node.events(session.id)
        assert events is not None
        seen: list[dict[str, object]] = []

        async def watch() -> None:
            async for event in events:
                seen.append(event)

        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.1)  # subscribed
        assert await b.node.command(session.id, "say", "Your table is booked.")
        await until(lambda: _said(seen, "Your table is booked."))
        assert not await b.node.command("call-unknown", "hangup")
        asked = time.monotonic()
        assert await b.node.command(session.id, "hangup")
        await asyncio.wait_for(task, 3)
        assert time.monotonic() - asked < 1.0
        await asyncio.wait_for(watcher, 3)
        assert seen[-1] == {"type": "session_ended", "reason": "hung up through the API"}
        assert transport.closed
        await until(lambda: _gone(b.node, session.id))


async def _said(seen: list[dict[str, object]], text: str) -> bool:
    return any(e["type"] == "agent_response_done" and e["text"] == text for e in seen)


async def test_without_redis_the_api_covers_this_node() -> None:
    async with member(None, "alone") as alone:
        session, _, task = await call_on(alone)
        assert await listed(alone.node) == {session.id}
        events = await alone.node.events(session.id)
        assert events is not None and await alone.node.events("call-unknown") is None
        assert await alone.node.command(session.id, "say", "Hello there.")
        assert await alone.node.command(session.id, "hangup")
        await asyncio.wait_for(task, 3)
        seen = [event async for event in events]
        assert {"type": "agent_response_started", "response_id": "resp_1"} in seen
        assert seen[-1] == {"type": "session_ended", "reason": "hung up through the API"}
        assert await listed(alone.node) == set()


async def test_a_redis_that_is_down_fails_the_api_not_the_call() -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"
    async with member(down, "a") as a:
        session, transport, task = await call_on(a)
        with pytest.raises(ClusterUnavailableError):
            await a.node.sessions()
        assert await a.node.command(session.id, "say", "Still here.")  # local: no Redis needed
        await until(lambda: _done_with(transport, "Still here."))
        assert a.node.heartbeat_failures > 0 and not task.done()


async def _done_with(transport: MemoryTransport, text: str) -> bool:
    return any(e.text == text for _, e in transport.events_of(AgentResponseDone))
