"""One member of the cluster: its live calls kept in Redis under a key that expires unless
the heartbeat rewrites it (a dead member's calls drop out after `node_ttl_s`), a command
channel it listens on, and its sessions' events published for watchers on other members.

Redis is never on a call's path: events go through a bounded queue to a publisher task, and
a Redis that fails costs only the API (503) and the heartbeat (retried), never audio."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncGenerator
from dataclasses import asdict
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from parley.cluster.local import LiveSessions, SessionInfo
from parley.cluster.settings import ClusterSettings
from parley.cluster.wire import (
    PREFIX,
    Ack,
    Command,
    Op,
    commands_channel,
    dumps,
    event_json,
    events_channel,
    member_key,
)
from parley.events import SessionEvent

log = logging.getLogger("parley.cluster")
ACK_TIMEOUT_S = 1.0
RELAY_QUEUE = 1000  # events waiting to be published; past it they are dropped


class ClusterUnavailableError(RuntimeError):
    """Redis (or the member holding the call) did not answer: the API says 503."""


class ClusterNode:
    def __init__(self, settings: ClusterSettings, live: LiveSessions) -> None:
        self.settings = settings
        self.live = live
        self.member = live.node
        self.redis: aioredis.Redis | None = None
        if settings.redis_url is not None:
            timeout = max(1.0, settings.heartbeat_s)
            self.redis = aioredis.from_url(
                settings.redis_url,
                decode_responses=True,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
            )
        self._beat_now = asyncio.Event()
        self._relay: asyncio.Queue[tuple[str, SessionEvent]] = asyncio.Queue(RELAY_QUEUE)
        self._tasks: list[asyncio.Task[None]] = []
        self.relay_dropped = 0
        self.heartbeat_failures = 0

    async def start(self) -> None:
        if self.redis is None:
            return
        self.live.on_change = self._beat_now.set
        self.live.on_event = self._queue_event
        for name, work in (("heartbeat", self._heartbeat()), ("commands", self._listen()),
                           ("relay", self._publish_events())):  # fmt: skip
            self._tasks.append(asyncio.create_task(work, name=f"cluster {name}"))

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.redis is not None:
            with contextlib.suppress(RedisError, OSError):
                async with asyncio.timeout(1.0):
                    await self.redis.delete(member_key(self.member))  # gone now, not at TTL
            await self.redis.aclose()

    # --- the list -------------------------------------------------------------------------

    async def sessions(self) -> list[SessionInfo]:
        """Every live call of every member that is alive (this one's as of now)."""
        mine = self.live.list()
        if self.redis is None:
            return mine
        found = {info.id: info for info in mine}
        for member, infos in (await self._members()).items():
            if member != self.member:
                found.update((info.id, info) for info in infos if info.id not in found)
        return sorted(found.values(), key=lambda info: info.started_at)

    async def _members(self) -> dict[str, list[SessionInfo]]:
        assert self.redis is not None
        try:
            keys = [key async for key in self.redis.scan_iter(match=member_key("*"), count=100)]
            values = await self.redis.mget(keys) if keys else []
        except (RedisError, OSError) as exc:
            raise ClusterUnavailableError(f"redis: {exc}") from exc
        members: dict[str, list[SessionInfo]] = {}
        for key, value in zip(keys, values, strict=True):
            if value is not None:
                members[key.removeprefix(member_key(""))] = [
                    SessionInfo(**info) for info in json.loads(value)
                ]
        return members

    async def _holder(self, session_id: str) -> str | None:
        for member, infos in (await self._members()).items():
            if any(info.id == session_id for info in infos):
                return member
        return None

    # --- commands -------------------------------------------------------------------------

    async def command(self, session_id: str, op: Op, text: str = "") -> bool:
        """Hang up or say on the session wherever it runs; False: no such live call."""
        if self.live.get(session_id) is not None:
            return self._run(Command(op=op, session=session_id, text=text, reply=""))
        if self.redis is None:
            return False
        member = await self._holder(session_id)
        if member is None:
            return False
        reply = f"{PREFIX}reply:{uuid.uuid4().hex}"
        command = Command(op=op, session=session_id, text=text, reply=reply)
        try:
            async with self.redis.pubsub() as pubsub, asyncio.timeout(ACK_TIMEOUT_S):
                await pubsub.subscribe(reply)
                await self.redis.publish(commands_channel(member), command.model_dump_json())
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=ACK_TIMEOUT_S)  # fmt: skip
                    if message is not None:
                        return Ack.model_validate_json(message["data"]).found
        except TimeoutError as exc:
            raise ClusterUnavailableError(f"member {member} did not answer") from exc
        except (RedisError, OSError) as exc:
            raise ClusterUnavailableError(f"redis: {exc}") from exc

    def _run(self, command: Command) -> bool:
        if command.op == "hangup":
            return self.live.hangup(command.session)
        return self.live.say(command.session, command.text)

    async def _listen(self) -> None:
        """This member's command channel; reconnects after a Redis failure."""
        assert self.redis is not None
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(commands_channel(self.member))
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            await self._answer(message["data"])
            except (RedisError, OSError) as exc:
                log.warning("cluster: command channel lost (%s); retrying", exc)
                await asyncio.sleep(self.settings.heartbeat_s)

    async def _answer(self, data: str) -> None:
        assert self.redis is not None
        try:
            command = Command.model_validate_json(data)
        except ValueError:
            log.warning("cluster: a malformed command was ignored")
            return
        found = self._run(command)
        await self.redis.publish(command.reply, Ack(found=found).model_dump_json())

    # --- the heartbeat --------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        assert self.redis is not None
        ttl_ms = int(self.settings.node_ttl_s * 1000)
        while True:
            self._beat_now.clear()
            body = _infos_json(self.live.list())
            try:
                await self.redis.set(member_key(self.member), body, px=ttl_ms)
                self.heartbeat_failures = 0
            except (RedisError, OSError) as exc:
                self.heartbeat_failures += 1
                if self.heartbeat_failures == 1:
                    log.warning("cluster: heartbeat failed (%s); retrying", exc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.heartbeat_s):
                    await self._beat_now.wait()

    # --- events ---------------------------------------------------------------------------

    def _queue_event(self, session_id: str, event: SessionEvent) -> None:
        if self._relay.full():
            self.relay_dropped += 1
            return
        self._relay.put_nowait((session_id, event))

    async def _publish_events(self) -> None:
        assert self.redis is not None
        while True:
            session_id, event = await self._relay.get()
            try:
                await self.redis.publish(events_channel(session_id), dumps(event_json(event)))
            except (RedisError, OSError):
                self.relay_dropped += 1

    async def events(self, session_id: str) -> AsyncGenerator[dict[str, Any]] | None:
        """The session's events from now on, as JSON objects, ending with `session_ended`;
        None: no such live call."""
        queue = self.live.watch(session_id)
        if queue is not None:
            return self._local_events(session_id, queue)
        if self.redis is None or await self._holder(session_id) is None:
            return None
        pubsub = self.redis.pubsub()
        try:
            await pubsub.subscribe(events_channel(session_id))
        except (RedisError, OSError) as exc:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            raise ClusterUnavailableError(f"redis: {exc}") from exc
        return self._remote_events(session_id, pubsub)

    async def _local_events(
        self, session_id: str, queue: asyncio.Queue[SessionEvent]
    ) -> AsyncGenerator[dict[str, Any]]:
        try:
            while True:
                event = event_json(await queue.get())
                yield event
                if event["type"] == "session_ended":
                    return
        finally:
            self.live.unwatch(session_id, queue)

    async def _remote_events(self, session_id: str, pubsub: Any) -> AsyncGenerator[dict[str, Any]]:
        """Relayed events. If the call drops out of the list (its member died, or its end was
        lost) or Redis fails, a `stream_ended` of our own ends the stream: a watcher is never
        left waiting on a call nobody holds."""
        check = self.settings.node_ttl_s
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=check)
                if message is None:
                    if await self._holder(session_id) is None:
                        yield {"type": "stream_ended", "reason": "the call is no longer listed"}
                        return
                    continue
                event = json.loads(message["data"])
                yield event
                if event.get("type") == "session_ended":
                    return
        except (ClusterUnavailableError, RedisError, OSError) as exc:
            yield {"type": "stream_ended", "reason": f"redis: {exc}"}
        finally:
            await pubsub.aclose()


def _infos_json(infos: list[SessionInfo]) -> str:
    return json.dumps([asdict(info) for info in infos], separators=(",", ":"))
