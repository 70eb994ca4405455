"""Overload: more calls than the node can carry, with admission control set at its capacity.

parley runs with `admission.max_sessions` = the capacity (per worker: the node's capacity
divided among its workers) and the default event-loop lag bound. 1.5 times as many callers
as the capacity ring within a second, each as Twilio would: `POST /twilio/voice` first, then
the media stream the TwiML names. A call is refused at the webhook (`<Reject reason="busy"/>`)
or, when it got through the webhook while the node filled up, at the stream (closed at its
`start`). The run passes when the accepted calls keep p99 outbound frame lateness under
20 ms and every question they asked is answered in time, and every refusal came within
100 ms (webhook request to its answer; stream `start` to the close).
"""

from __future__ import annotations

import asyncio
import math
import time
import xml.etree.ElementTree as ET

import httpx

from parley.benchmarks.caller import BenchCaller, answered, frame_lateness
from parley.benchmarks.capacity import ANSWER_WITHIN, REPLY, SMOOTH_MS, Progress, script
from parley.benchmarks.plan import Setup
from parley.benchmarks.process import ServerProcess
from parley.benchmarks.results import Distribution, Overload
from parley.benchmarks.scenarios import place

OFFERED = 1.5  # times the capacity
REFUSED_WITHIN_MS = 100.0
LAG_BOUND_S = 0.1  # admission.max_loop_lag_s's default


class _Call:
    def __init__(self) -> None:
        self.caller: BenchCaller | None = None  # None: refused at the webhook
        self.refused_ms: float | None = None
        self.refused_at: str | None = None


async def overload(
    setup: Setup, progress: Progress, capacity_calls: int, workers: int = 1
) -> Overload:
    """Offer OFFERED x `capacity_calls` calls to parley with admission at `capacity_calls`."""
    per_worker = max(1, math.ceil(capacity_calls / workers))
    offered = math.ceil(capacity_calls * OFFERED)
    turns = setup.plan.capacity_turns
    fake = setup.latencies.fake_settings([REPLY])
    async with setup.serve("overload", fake, workers=workers, max_sessions=per_worker,
                           max_loop_lag_s=LAG_BOUND_S) as server:  # fmt: skip
        await asyncio.sleep(1.0)  # let start-up settle
        async with httpx.AsyncClient(timeout=10.0) as http:
            calls = await asyncio.gather(
                *(_ring(server, http, index / offered, turns) for index in range(offered))
            )
    accepted = [c.caller for c in calls if c.caller is not None and c.refused_at is None]
    answers = [a for c in accepted for a in answered(c, ANSWER_WITHIN)]
    lateness = Distribution.of_seconds([x for c in accepted for x in frame_lateness(c)])
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


async def _ring(
    server: ServerProcess, http: httpx.AsyncClient, stagger: float, turns: int
) -> _Call:
    """One call as Twilio places it: the webhook, then (unless rejected) the stream."""
    call = _Call()
    await asyncio.sleep(stagger)
    caller = BenchCaller(server.media_url, script(0.0, turns))
    form = {"CallSid": caller.call_sid, "From": "+15550000001", "To": "+15550000002"}
    started = time.perf_counter()
    response = await http.post(f"http://127.0.0.1:{server.spec.port}/twilio/voice", data=form)
    elapsed_ms = 1000 * (time.perf_counter() - started)
    twiml = ET.fromstring(response.text)
    if twiml.find("Reject") is not None:
        call.refused_ms, call.refused_at = elapsed_ms, "webhook"
        return call
    stream = twiml.find("./Connect/Stream")
    if stream is not None:
        caller.custom_parameters.update(
            {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
        )
    call.caller = caller
    await place(caller, 30 + 15 * turns)
    log = caller.log
    if not log.media_received and log.ended_by == "server" and log.closed_at is not None:
        call.refused_ms = 1000 * (log.closed_at - caller.started_at)
        call.refused_at = "stream"
    return call


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"
