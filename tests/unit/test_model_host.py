"""The model process with a real child (the scripted engine: no model to load, seconds).

A crash in the child fails the calls in flight with a ProviderError naming the signal, the
child comes back with its models, and the next call is answered; cancellation reaches the
child; calls to one model run in order; the child never outlives its parent.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley.providers.base import ProviderError
from parley.providers.local.model_host.client import ModelHost
from parley.providers.local.model_host.faults import parse
from parley.providers.local.model_host.remote import RemoteModel
from parley.providers.local.model_host.wire import MAX_UNWRITTEN


@pytest.fixture
def fault(tmp_path: Path) -> Path:
    return tmp_path / "fault"


@pytest.fixture
def host(fault: Path) -> Iterator[ModelHost]:
    host = ModelHost(env={"PARLEY_MODEL_FAULT": str(fault)}, backoff=(0.1, 1.0))
    yield host
    host.close()


def scripted(host: ModelHost, journal: Path | None = None) -> RemoteModel:
    return RemoteModel(host, "scripted", {"journal": str(journal) if journal else None})


async def tokens(model: RemoteModel, **request: object) -> list[str]:
    return [str(item["token"]) async for item, _ in model.stream(request) if "token" in item]


def wait_for(condition: object, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


def test_results_stream_through_the_child_with_raw_bytes_beside_them(host: ModelHost) -> None:
    model = scripted(host)
    pid = host.status().pid
    assert pid is not None and pid != os.getpid() and host.status().state == "ready"
    payload = os.urandom(1_000_000)  # 30 s of audio is about this size

    async def call() -> list[tuple[dict[str, object], bytes]]:
        return [item async for item in model.stream({"count": 3}, payload)]

    items = asyncio.run(call())
    assert [h.get("token") for h, _ in items[:3]] == ["0 ", "1 ", "2 "]
    assert items[3] == ({"echo": len(payload)}, payload)


def test_a_child_that_stops_reading_never_blocks_the_caller(host: ModelHost) -> None:
    """Requests go out from the event loop: a child that stops reading (here: stopped, with
    more audio queued than the socket can buffer) must not stop the loop (invariant 1)."""
    model = scripted(host)
    pid = host.status().pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:

        async def send_while_stopped() -> float:
            started = time.perf_counter()
            streams = [model.stream({"count": 1}, os.urandom(1_000_000)) for _ in range(4)]
            tasks = [asyncio.ensure_future(anext(s)) for s in streams]
            await asyncio.sleep(0.2)  # the requests are sent (queued) by now
            elapsed = time.perf_counter() - started
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for stream in streams:
                await stream.aclose()  # each sends a cancel: must not block either
            return elapsed

        assert asyncio.run(send_while_stopped()) < 1.0
    finally:
        os.kill(pid, signal.SIGCONT)
    assert asyncio.run(tokens(model, count=2)) == ["0 ", "1 "]  # and the channel still works


def test_requests_for_a_child_that_stops_reading_queue_only_so_far(host: ModelHost) -> None:
    """Past MAX_UNWRITTEN bytes the child has not read, a request fails at once (it costs
    its turn) instead of queueing without bound; cancels still go in."""
    model = scripted(host)
    pid = host.status().pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:

        async def send_while_stopped() -> list[BaseException | None]:
            streams = [model.stream({"count": 1}, os.urandom(1_000_000)) for _ in range(48)]
            tasks = [asyncio.ensure_future(anext(s)) for s in streams]
            await asyncio.sleep(0.5)
            outcomes = [t.exception() if t.done() else None for t in tasks]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for stream in streams:
                await stream.aclose()
            return outcomes

        outcomes = asyncio.run(send_while_stopped())
    finally:
        os.kill(pid, signal.SIGCONT)
    refused = [e for e in outcomes if e is not None]
    # 32 MiB is about 33 of these requests, less what the socket's buffers took.
    assert 48 - 40 <= len(refused) <= 48 - MAX_UNWRITTEN // 1_000_000
    assert all(
        isinstance(e, ProviderError) and "not reading its requests" in str(e) for e in refused
    )
    assert asyncio.run(tokens(model, count=2)) == ["0 ", "1 "]  # the channel still works


def test_a_segfault_mid_stream_fails_the_call_and_the_next_call_is_answered(
    host: ModelHost, fault: Path
) -> None:
    model = scripted(host)
    first_pid = host.status().pid
    fault.write_text("llm:segv:after=3")

    async def crashing() -> tuple[list[str], Exception | None]:
        got: list[str] = []
        try:
            async for item, _ in model.stream({"count": 10}):
                got.append(str(item["token"]))
        except ProviderError as error:
            return got, error
        return got, None

    got, error = asyncio.run(crashing())
    assert got == ["0 ", "1 ", "2 "]  # the three tokens made before the crash arrived
    assert "model process died (SIGSEGV); restarting" in str(error)
    assert not fault.exists()  # one shot: the restarted child runs clean
    # The next call waits for the restarted child and is answered by it.
    assert asyncio.run(tokens(model, count=2)) == ["0 ", "1 "]
    status = host.status()
    assert status.state == "ready" and status.restarts == 1
    assert status.pid not in (None, first_pid) and status.last_exit == "died (SIGSEGV)"


@pytest.mark.parametrize(("how", "named"), [("abort", "SIGABRT"), ("kill", "SIGKILL")])
def test_an_abort_or_a_kill_is_named_too(
    host: ModelHost, fault: Path, how: str, named: str
) -> None:
    model = scripted(host)
    fault.write_text(f"llm:{how}")
    with pytest.raises(ProviderError, match=rf"died \({named}\)"):
        asyncio.run(tokens(model, count=3))
    assert asyncio.run(tokens(model, count=1)) == ["0 "]


def test_calls_in_flight_on_every_model_fail_and_all_models_come_back(host: ModelHost) -> None:
    first, second = scripted(host), scripted(host)
    pid = host.status().pid
    assert pid is not None

    async def both() -> list[BaseException | list[str]]:
        calls = [tokens(m, count=200, delay=0.01) for m in (first, second)]
        tasks = [asyncio.ensure_future(c) for c in calls]
        await asyncio.sleep(0.3)
        os.kill(pid, signal.SIGSEGV)  # from outside, as a native crash would
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(both())
    assert all(isinstance(r, ProviderError) and "SIGSEGV" in str(r) for r in results), results
    assert asyncio.run(tokens(first, count=1)) == asyncio.run(tokens(second, count=1)) == ["0 "]


def test_closing_a_stream_stops_the_work_in_the_child(host: ModelHost, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    model = scripted(host, journal)

    async def cancel_early() -> float:
        stream = model.stream({"label": "long", "count": 500, "delay": 0.01})
        await anext(stream)
        await anext(stream)
        await stream.aclose()
        started = time.perf_counter()
        await tokens(model, label="next", count=1)  # queued behind the long one
        return time.perf_counter() - started

    waited = asyncio.run(cancel_early())
    lines = journal.read_text().splitlines()
    assert lines[0] == "start long" and lines[1].startswith("end long")
    assert int(lines[1].split()[-1]) < 50, lines  # stopped within a few tokens, not 500
    assert lines[2:] == ["start next", "end next 1"]
    assert waited < 2.0


def test_calls_run_in_order_and_a_call_cancelled_while_queued_is_skipped(
    host: ModelHost, tmp_path: Path
) -> None:
    journal = tmp_path / "journal"
    model = scripted(host, journal)

    async def queue_three() -> list[list[str]]:
        calls = {
            label: asyncio.ensure_future(tokens(model, label=label, count=5, delay=0.02))
            for label in ("a", "b", "c")
        }
        await asyncio.sleep(0.03)  # a is running, b and c wait
        calls["b"].cancel()
        done = await asyncio.gather(*calls.values(), return_exceptions=True)
        return [d for d in done if isinstance(d, list)]

    assert asyncio.run(queue_three()) == [["0 ", "1 ", "2 ", "3 ", "4 "]] * 2
    assert journal.read_text().splitlines() == ["start a", "end a 5", "start c", "end c 5"]


def test_a_model_that_fails_to_load_says_why_and_the_child_stops(host: ModelHost) -> None:
    with pytest.raises(ProviderError, match="no model engine named 'nonesuch'"):
        RemoteModel(host, "nonesuch", {})
    assert host.status().state == "stopped"


def test_close_stops_the_child(host: ModelHost) -> None:
    model = scripted(host)
    pid = host.status().pid
    assert pid is not None
    model.close()  # the last model: the child goes
    wait_for(lambda: not alive(pid), limit=5.0)
    assert host.status().state == "stopped"
    with pytest.raises(ProviderError, match="stopped"):
        asyncio.run(tokens(model))


def test_the_child_dies_with_its_parent(tmp_path: Path) -> None:
    """The parent is SIGKILLed (no clean-up at all): the child sees its channel close."""
    parent = subprocess.Popen(
        [sys.executable, "-c", (
            "from parley.providers.local.model_host.client import ModelHost\n"
            "from parley.providers.local.model_host.remote import RemoteModel\n"
            "import sys, time\n"
            "host = ModelHost(); RemoteModel(host, 'scripted', {})\n"
            "print(host.status().pid, flush=True); time.sleep(60)\n"
        )],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert alive(child)
        parent.kill()
        parent.wait()
        wait_for(lambda: not alive(child), limit=5.0)
    finally:
        parent.kill()


def test_the_fault_switch_reads_its_faults() -> None:
    assert parse("llm:segv:after=3") == parse(" llm:segv:after=3\n")
    assert parse("tts:abort").after == 0
    with pytest.raises(ValueError, match="bad fault"):
        parse("llm:explode")


def test_health_and_metrics_show_the_model_process_and_its_restarts(host: ModelHost) -> None:
    from fastapi.testclient import TestClient

    from parley.server import create_app
    from parley.settings import Settings

    fakes = {"vad": "energy", "stt": "fake", "llm": "fake", "tts": "fake"}
    app = create_app(Settings.model_validate(fakes))
    app.state.parley.model_host = lambda: host
    scripted(host)
    with TestClient(app) as client:
        health = client.get("/health").json()["model_process"]
        assert health["state"] == "ready" and health["restarts"] == 0
        assert health["models"] == ["scripted"] and health["rss_bytes"] > 1_000_000
        os.kill(health["pid"], signal.SIGSEGV)
        wait_for(lambda: host.status().restarts == 1 and host.status().state == "ready")
        health = client.get("/health").json()["model_process"]
        assert health["last_exit"] == "died (SIGSEGV)" and health["state"] == "ready"
        metrics = client.get("/metrics").text
    assert "parley_model_process_restarts_total 1.0" in metrics
    assert "parley_model_process_up 1.0" in metrics


def test_the_benchmark_counts_the_model_process_as_part_of_the_server(host: ModelHost) -> None:
    from parley.benchmarks.process import _process_tree

    scripted(host)
    assert host.status().pid in _process_tree(os.getpid())


def test_a_child_that_keeps_dying_backs_off_and_is_reported_failed(host: ModelHost) -> None:
    started = time.monotonic()
    with pytest.raises(ProviderError, match=r"keeps failing \(last: exited with status 3\)"):
        RemoteModel(host, "scripted", {"exit_on_load": 3})
    status = host.status()
    assert status.restarts == 2 and status.last_exit == "exited with status 3"
    assert time.monotonic() - started >= 0.1 + 0.2  # the back-off doubled between tries


def test_the_llm_waits_between_tokens_while_piper_makes_a_first_segment(
    host: ModelHost, tmp_path: Path
) -> None:
    """On two cores the LLM and Piper halve each other's speed: the segment a listener waits
    for goes first. Only a first segment; never the LLM's first token; a cancel still lands."""
    journal = tmp_path / "journal"
    llm = RemoteModel(host, "scripted", {"kind": "llm", "journal": str(journal)})
    tts = RemoteModel(host, "scripted", {"kind": "tts", "journal": str(journal)})

    async def overlap(first: bool) -> tuple[float, float, float]:
        """(longest gap between LLM tokens, when the TTS ended, when the LLM's last token came)."""
        started = time.perf_counter()
        times: list[float] = []
        speech: asyncio.Future[list[str]] | None = None
        async for _item, _ in llm.stream({"label": "llm", "count": 30, "delay": 0.01}):
            times.append(time.perf_counter() - started)
            if len(times) == 3:
                request = {"label": "tts", "count": 1, "delay": 0.5, "first": first}
                speech = asyncio.ensure_future(tokens(tts, **request))
        assert speech is not None
        await speech
        tts_end = time.perf_counter() - started
        return max(b - a for a, b in itertools.pairwise(times)), tts_end, times[-1]

    gap, tts_end, llm_end = asyncio.run(overlap(first=True))
    assert gap >= 0.4 and llm_end > tts_end - 0.1  # paused for the speech, then went on
    gap, tts_end, llm_end = asyncio.run(overlap(first=False))
    assert gap < 0.3 and llm_end < tts_end  # a later segment: no pause

    async def first_token_and_cancel() -> tuple[float, float]:
        speech = asyncio.ensure_future(tokens(tts, label="tts", count=1, delay=3.0, first=True))
        await asyncio.sleep(0.2)  # Piper is busy with a first segment
        started = time.perf_counter()
        stream = llm.stream({"label": "paused", "count": 30, "delay": 0.01})
        await anext(stream)  # a first token is never held back
        first_token = time.perf_counter() - started
        await stream.aclose()  # cancelled while it waits for the speech
        started = time.perf_counter()
        wait_for(lambda: "end paused 1" in journal.read_text(), limit=5.0)
        cancelled = time.perf_counter() - started
        speech.cancel()
        return first_token, cancelled

    first_token, cancelled = asyncio.run(first_token_and_cancel())
    assert first_token < 1.0 and cancelled < 1.0  # not the 3 s the speech takes
