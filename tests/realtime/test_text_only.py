"""Text-only responses (`output_modalities: ["text"]`, beta `modalities`), with the official
client: text events and an output_text item, no audio; per response too."""

from __future__ import annotations

from typing import Any

from parley.testing.fakes import FakeLLM

from .harness import ask_in_text, realtime_server, receiving
from .test_tools import providers


async def text_then_audio(*, beta: bool) -> tuple[list[dict[str, Any]], Any, FakeLLM]:
    llm = FakeLLM(["Nine in the evening.", "It is nine."], first_token_latency=0.05,
                  token_latency=0.01)  # fmt: skip
    async with realtime_server(providers(llm)) as site:
        client = site.client()
        connect = client.beta.realtime.connect if beta else client.realtime.connect
        async with (
            connect(model="gpt-4o-realtime-preview") as conn,
            receiving(conn, beta=beta) as got,
        ):
            created = await got.next("session.created")
            session: Any = {"modalities": ["text"]} if beta else {
                "type": "realtime", "output_modalities": ["text"]}  # fmt: skip
            await conn.session.update(session=session)
            updated = await got.next("session.updated")
            await ask_in_text(conn, "what time is it in tokyo")
            await conn.response.create()
            first = await got.next("response.done")
            mark = got.mark()
            await ask_in_text(conn, "say it again")
            audio: Any = {"modalities": ["audio", "text"]} if beta else {
                "output_modalities": ["audio"]}  # fmt: skip
            await conn.response.create(response=audio)
            second = await got.next("response.done", after=mark)
            history = site.session(created["session"]["id"]).conversation.history
            log = [e for _, e in got.log]
    key = "modalities" if beta else "output_modalities"
    assert updated["session"][key] == ["text"]
    assert first["response"][key] == ["text"]
    assert second["response"][key] == (["audio", "text"] if beta else ["audio"])
    return log, (first, second, mark, history), llm


def check(log: list[dict[str, Any]], result: Any, *, beta: bool) -> None:
    first, second, mark, history = result
    prefix = "response.text" if beta else "response.output_text"
    audio = "response.audio.delta" if beta else "response.output_audio.delta"
    before = log[:mark]
    deltas = [e["delta"] for e in before if e["type"] == f"{prefix}.delta"]
    assert "".join(deltas) == "Nine in the evening."
    [done] = [e for e in before if e["type"] == f"{prefix}.done"]
    assert done["text"] == "Nine in the evening."
    assert not any(e["type"] == audio for e in before)
    parts = [e["part"] for e in before if e["type"].startswith("response.content_part")]
    assert parts == [{"type": "text", "text": ""}, {"type": "text", "text": "Nine in the evening."}]
    content = first["response"]["output"][0]["content"]
    assert content == [{"type": "text" if beta else "output_text", "text": "Nine in the evening."}]
    assert first["response"]["status"] == "completed"
    # The next response asked for audio: spoken again, and the session's text-only stays.
    assert any(e["type"] == audio for e in log[mark:])
    assert second["response"]["output"][0]["content"][0]["transcript"] == "It is nine."
    assert [(m.role, m.content) for m in history[1:]] == [
        ("user", "what time is it in tokyo"), ("assistant", "Nine in the evening."),
        ("user", "say it again"), ("assistant", "It is nine."),
    ]  # fmt: skip


async def test_text_only_responses_ga() -> None:
    log, result, _ = await text_then_audio(beta=False)
    check(log, result, beta=False)


async def test_text_only_responses_beta() -> None:
    log, result, _ = await text_then_audio(beta=True)
    check(log, result, beta=True)
