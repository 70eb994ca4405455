"""The node's one model process, shared by its workers through the broker (a real child,
the scripted engine): one child for two workers, results routed to the right one, and a
crash costs each worker's call in flight a turn, then both are served again."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.providers.base import ProviderError
from parley.providers.local.model_host.broker import ModelBroker
from parley.providers.local.model_host.client import ModelHost
from parley.providers.local.model_host.remote import RemoteModel

from .test_model_host import alive, tokens, wait_for


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[ModelBroker]:
    broker = ModelBroker(str(tmp_path / "models.sock"), ModelHost(backoff=(0.1, 1.0)))
    yield broker
    broker.close()


@pytest.fixture
def workers(broker: ModelBroker) -> Iterator[list[ModelHost]]:
    hosts = [ModelHost(connect=broker.path, backoff=(0.1, 1.0)) for _ in range(2)]
    yield hosts
    for host in hosts:
        host.close()


def test_two_workers_share_one_child_and_each_gets_its_own_results(
    broker: ModelBroker, workers: list[ModelHost]
) -> None:
    models = [RemoteModel(host, "scripted", {}) for host in workers]
    child = broker.host.status().pid
    assert child is not None and alive(child)
    assert broker.host.status().models == ("scripted",)  # loaded once for both
    wait_for(lambda: all(h.status().pid == child for h in workers))
    assert all(h.status().state == "ready" for h in workers)

    async def both() -> list[list[str]]:
        return list(await asyncio.gather(
            tokens(models[0], count=3, delay=0.01), tokens(models[1], count=5, delay=0.01)
        ))  # fmt: skip

    assert asyncio.run(both()) == [["0 ", "1 ", "2 "], ["0 ", "1 ", "2 ", "3 ", "4 "]]
    payload = os.urandom(200_000)

    async def echo() -> bytes:
        items = [item async for item in models[1].stream({"count": 0}, payload)]
        return items[-1][1]

    assert asyncio.run(echo()) == payload


def test_a_crash_costs_each_worker_a_turn_then_both_are_served(
    broker: ModelBroker, workers: list[ModelHost]
) -> None:
    models = [RemoteModel(host, "scripted", {}) for host in workers]
    child = broker.host.status().pid
    assert child is not None

    async def in_flight(model: RemoteModel) -> str:
        try:
            await tokens(model, count=100, delay=0.05)
        except ProviderError as exc:
            return str(exc)
        return "finished"

    async def crash() -> list[str]:
        calls = [asyncio.create_task(in_flight(m)) for m in models]
        await asyncio.sleep(0.3)
        os.kill(child, signal.SIGKILL)
        return list(await asyncio.gather(*calls))

    failures = asyncio.run(crash())
    assert all("SIGKILL" in failure for failure in failures), failures
    wait_for(lambda: broker.host.status().state == "ready")
    restarted = broker.host.status().pid
    assert restarted not in (None, child)
    # the next call of each worker is answered by the new child (it may wait for it)
    assert [asyncio.run(tokens(m, count=2)) for m in models] == [["0 ", "1 "]] * 2
    wait_for(lambda: all(h.status().restarts == 1 for h in workers))
    assert all(h.status().pid == restarted for h in workers)


def test_a_worker_that_goes_away_leaves_the_others_served(
    broker: ModelBroker, workers: list[ModelHost]
) -> None:
    models = [RemoteModel(host, "scripted", {}) for host in workers]
    models[0].close()  # its host holds no model: it closes its connection
    wait_for(lambda: workers[0].status().state == "stopped")
    assert asyncio.run(tokens(models[1], count=2)) == ["0 ", "1 "]
    assert broker.host.status().state == "ready"
