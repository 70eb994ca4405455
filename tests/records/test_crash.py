"""`kill -9` of a real `parley serve` mid-call: every completed turn is in the database, and
the next start closes the call with "server stopped" at its last activity."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from pathlib import Path

import httpx
from sqlalchemy.exc import OperationalError

from parley.records.recording import recording_finished
from parley.records.store import SERVER_STOPPED, Store
from tests.serving import FAKE_PROVIDERS, ServeProcess, parley_serve
from tests.twilio.harness import caller_on_hold


def serve(
    data: Path, *, recordings: bool = False
) -> contextlib.AbstractAsyncContextManager[ServeProcess]:
    return parley_serve(*FAKE_PROVIDERS, env={
        "PARLEY_RECORDS__DATA_DIR": str(data),
        "PARLEY_FAKE__LLM_REPLIES": json.dumps(["Sure, it is noon."]),
        "PARLEY_FAKE__STT_TRANSCRIPT": "what time is it",
        "PARLEY_RECORDS__RECORDINGS": json.dumps(recordings),
    })  # fmt: skip


async def turns_in(store: Store) -> int:
    try:
        listed = await store.list_calls(limit=1)
    except OperationalError:  # the server has not made the tables yet
        return 0
    return listed[0].turn_count if listed else 0


async def test_a_killed_server_keeps_completed_turns_and_closes_the_call_at_restart(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'parley.db'}")
    try:
        async with serve(tmp_path) as served:
            # still on the line when the server dies
            caller = caller_on_hold(f"ws://{served.host}/twilio/media")
            call = asyncio.create_task(caller.run())
            for _ in range(300):  # the turn is committed as it ends, while the call goes on
                if await turns_in(store) == 1:
                    break
                await asyncio.sleep(0.05)
            assert await turns_in(store) == 1 and not call.done()
            # A crash of the whole node: the parent and every worker (--workers defaults to
            # the number of cores), so no process is left to close the call.
            os.killpg(served.process.pid, signal.SIGKILL)
            assert await served.wait(10) == -signal.SIGKILL
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await call

        [left_open] = await store.list_calls(limit=10)
        assert left_open.call.ended_at is None, left_open.call.end_reason  # the node was killed

        async with (
            serve(tmp_path) as served,
            httpx.AsyncClient(base_url=f"http://{served.host}") as http,
        ):
            body = (await http.get(f"/v1/calls/{left_open.call.id}")).json()
    finally:
        await store.aclose()

    assert body["end_reason"] == SERVER_STOPPED
    assert body["twilio"]["call_sid"] == caller.call_sid
    [turn] = body["turns"]
    assert turn["status"] == "completed"
    assert turn["user_text"] == "what time is it" and turn["heard_text"] == "Sure, it is noon."
    # The call ended at its last activity: the end of the completed turn.
    assert abs(body["duration_s"] - turn["end_s"]) < 0.01


async def test_sigterm_mid_call_finishes_the_recording(tmp_path: Path) -> None:
    """A clean stop is not a crash: the server waits for each recording to be complete."""
    async with serve(tmp_path, recordings=True) as served:
        # still on the line when the server is stopped
        caller = caller_on_hold(f"ws://{served.host}/twilio/media")
        call = asyncio.create_task(caller.run())
        recordings = tmp_path / "recordings"
        for _ in range(300):
            if list(recordings.glob("*.ogg")):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(2.0)  # the question and its answer are in the file
        assert not call.done(), (call.exception() or call.result(), served.log[-5000:])
        served.process.send_signal(signal.SIGTERM)
        assert await served.wait(20) == 0, served.log
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await call
    [recording] = recordings.glob("*.ogg")
    assert recording_finished(recording)
