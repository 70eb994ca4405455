"""Overload: more calls than the node can carry, with admission control set at its capacity.

parley runs with `admission.max_sessions` = the capacity (per worker: the node's capacity
divided among its workers) and the default event-loop lag bound. 1.5 times as many callers
as the capacity ring, RING_PER_S a second, each as Twilio would: `POST /twilio/voice` first,
then the media stream the TwiML names; each accepted call asks at least OVERLOAD_TURNS
questions, so the node is still full when the last callers ring. (All within one second,
the node spent itself starting sessions: 120 accepted on 2 cores kept answering, but the 60
refusals took 417-595 ms, queued behind those starts.)

A call is refused at the webhook (`<Reject reason="busy"/>`) or, when it got through the
webhook while the node filled up, at the stream (closed at its `start`). The run passes when
the accepted calls keep p99 outbound frame lateness under 20 ms and every question they
asked is answered in time, and every refusal came within 100 ms (webhook request to its
answer; stream `start` to the close).
"""

from __future__ import annotations

import asyncio
import math
import time
import xml.etree.ElementTree as ET

import httpx

from parley.benchmarks.caller import BenchCaller
from parley.benchmarks.caller_processes import CallOutcome, Job, run_in_processes, start_time
from parley.benchmarks.capacity import REPLY, SMOOTH_MS, Progress, script
from parley.benchmarks.plan import Setup
from parley.benchmarks.results import Distribution, Overload
from parley.benchmarks.scenarios import place

OFFERED = 1.5  # times the capacity
REFUSED_WITHIN_MS = 100.0
LAG_BOUND_S = 0.1  # admission.max_loop_lag_s's default
RING_PER_S = 30.0  # new calls a second
OVERLOAD_TURNS = 3


async def overload(
    setup: Setup, progress: Progress, capacity_calls: int, workers: int = 1
) -> Overload:
    """Offer OFFERED x `capacity_calls` calls to parley with admission at `capacity_calls`."""
    per_worker = max(1, math.ceil(capacity_calls / workers))
    offered = math.ceil(capacity_calls * OFFERED)
    turns = max(setup.plan.capacity_turns, OVERLOAD_TURNS)
    fake = setup.latencies.fake_settings([REPLY])
    async with setup.serve("overload", fake, workers=workers, max_sessions=per_worker,
                           max_loop_lag_s=LAG_BOUND_S) as server:  # fmt: skip
        await asyncio.sleep(1.0)  # let start-up settle
        calls = await run_in_processes(
            "overload", server.media_url, server.http_url, offered, turns, start_time()
        )
    accepted = [c for c in calls if c.refused_at is None]
    answers = [a for c in accepted for a in c.answered]
    lateness = Distribution.of_seconds([x for c in accepted for x in c.lateness])
    refusals = [c.refused_ms for c in calls if c.refused_ms is not None]
    refusal = Distribution(n=0) if not refusals else Distribution.of_seconds(
        [ms / 1000 for ms in refusals]
    )  # fmt: skip
    smooth = lateness.p99 is not None and lateness.p99 < SMOOTH_MS
    fast = all(ms <= REFUSED_WITHIN_MS for ms in refusals)
    result = Overload(
        capacity=capacity_calls,
        workers=workers,
        max_sessions=per_worker,
        offered=offered,
        accepted=len(accepted),
        refused_webhook=sum(1 for c in calls if c.refused_at == "webhook"),
        refused_stream=sum(1 for c in calls if c.refused_at == "stream"),
        lateness=lateness,
        answered=sum(answers),
        utterances=len(answers),
        refusal=refusal,
        passed=bool(accepted) and smooth and all(answers) and fast,
    )
    progress(
        f"overload: {offered} offered to a node of {capacity_calls}: {result.accepted} accepted "
        f"(p99 lateness {_ms(lateness.p99)}, answered {result.answered}/{result.utterances}), "
        f"{result.refused_webhook} refused at the webhook, {result.refused_stream} at the "
        f"stream (slowest refusal {_ms(refusal.max)})"
    )
    return result


async def ring(job: Job, index: int, http: httpx.AsyncClient) -> CallOutcome:
    """One call as Twilio places it, in a caller process (`http`: the process's client): the
    webhook, then (unless rejected) the stream. The calls ring RING_PER_S a second from the
    common start."""
    await asyncio.sleep(index / RING_PER_S)
    caller = BenchCaller(job.media_url, script(0.0, job.turns))
    form = {"CallSid": caller.call_sid, "From": "+15550000001", "To": "+15550000002"}
    started = time.perf_counter()
    response = await http.post(f"{job.http_url}/twilio/voice", data=form)
    elapsed_ms = 1000 * (time.perf_counter() - started)
    twiml = ET.fromstring(response.text)
    if twiml.find("Reject") is not None:
        return CallOutcome(refused_at="webhook", refused_ms=elapsed_ms)
    stream = twiml.find("./Connect/Stream")
    if stream is None:
        # Neither refused nor connected: counted as accepted and unanswered (a failed run).
        return CallOutcome(error="TwiML without a Reject or a Stream", answered=[False])
    caller.custom_parameters.update(
        {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    )
    outcome = CallOutcome.of(caller, await place(caller, 30 + 15 * job.turns))
    log = caller.log
    if not log.media_received and log.ended_by == "server" and log.closed_at is not None:
        outcome.refused_at = "stream"
        outcome.refused_ms = 1000 * (log.closed_at - caller.started_at)
    return outcome


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"
