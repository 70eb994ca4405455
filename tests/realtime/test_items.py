"""conversation.item.retrieve and conversation.item.delete, with the official client."""

from __future__ import annotations

from typing import Any

from parley.testing.fakes import FakeLLM

from .harness import ask_in_text, realtime_server, receiving
from .test_tools import providers


async def test_retrieve_returns_items_and_delete_removes_an_answer_from_the_history() -> None:
    llm = FakeLLM(["Nine in the evening.", "Still here.", "Still here."],
                  first_token_latency=0.05, token_latency=0.01)  # fmt: skip
    async with (
        realtime_server(providers(llm)) as site,
        site.client().realtime.connect(model="gpt-4o-realtime-preview") as conn,
        receiving(conn) as got,
    ):
        created = await got.next("session.created")
        await ask_in_text(conn, "what time is it in tokyo")
        user = await got.next("conversation.item.added")
        await conn.response.create()
        done = await got.next("response.done")
        answer = done["response"]["output"][0]
        await conn.conversation.item.retrieve(item_id=user["item"]["id"])
        got_user = await got.next("conversation.item.retrieved")
        mark = got.mark()
        await conn.conversation.item.retrieve(item_id=answer["id"])
        got_answer = await got.next("conversation.item.retrieved", after=mark)
        session = site.session(created["session"]["id"])
        before = [(m.role, m.content) for m in session.conversation.history[1:]]
        await conn.conversation.item.delete(item_id=answer["id"])
        deleted = await got.next("conversation.item.deleted")
        after = [(m.role, m.content) for m in session.conversation.history[1:]]
        await conn.conversation.item.delete(item_id=user["item"]["id"])
        await conn.conversation.item.retrieve(item_id="item_nope")
        mark = got.mark()
        await ask_in_text(conn, "are you there")
        await conn.response.create()
        again = await got.next("response.done", after=mark)
        last: Any = llm.calls[-1]
    assert again["response"]["output"][0]["content"][0]["transcript"] == "Still here."
    assert got_user["item"] == user["item"]
    assert got_answer["item"] == answer
    assert deleted["item_id"] == answer["id"]
    assert before == [("user", "what time is it in tokyo"), ("assistant", "Nine in the evening.")]
    assert after == [("user", "what time is it in tokyo")]
    # The model no longer sees its deleted answer: the next turn joins the person's words.
    assert [m.content for m in last[1:]] == ["what time is it in tokyo are you there"]
    errors = [(e["code"], e["param"]) for e in got.errors()]
    assert errors == [("unsupported_value", "item_id"), ("invalid_value", "item_id")]
