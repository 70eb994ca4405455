"""The chat history and the edits that keep it true to what was heard (invariant 4)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from parley.types import ChatMessage, TimedWord


def heard_words(words: Iterable[TimedWord], played: float) -> list[TimedWord]:
    """The words whose audio had started playing by `played` seconds into the response.

    A word counts as heard once its audio began: the person heard at least its start, and
    the model should know it said it. Words are assumed in order.
    """
    return [w for w in words if w.start < played]


def join_words(words: Iterable[TimedWord]) -> str:
    return " ".join(w.text for w in words if w.text)


class History:
    """An append-mostly list of chat messages with the two edits turn-taking needs."""

    def __init__(self, messages: Sequence[ChatMessage] = ()) -> None:
        self._messages: list[ChatMessage] = list(messages)

    @property
    def messages(self) -> tuple[ChatMessage, ...]:
        return tuple(self._messages)

    def add_user_turn(self, text: str) -> None:
        """Append the person's turn, joining it to their previous message if the agent said
        nothing they heard in between (an unheard response was removed)."""
        if self._messages and self._messages[-1].role == "user":
            previous = self._messages[-1]
            self._messages[-1] = ChatMessage("user", f"{previous.content} {text}".strip())
        else:
            self._messages.append(ChatMessage("user", text))

    def add_agent_speech(self, text: str, *, interrupted: bool) -> int | None:
        """Append what the person heard of a response; a response heard not at all leaves no
        message, so the next user turn joins the previous one. Returns its index."""
        if not text:
            return None
        self._messages.append(ChatMessage("assistant", text, interrupted=interrupted))
        return len(self._messages) - 1

    def add_tool_exchange(self, messages: Sequence[ChatMessage]) -> None:
        """Append function calls and their results (they answer each other, in order)."""
        self._messages.extend(messages)

    def add_tool_result(self, call_id: str, content: str) -> int:
        """Insert a function's result after its call (and the results already there), where
        the models expect it; at the end if no call has that id. Returns its index."""
        index = len(self._messages)
        for position, message in enumerate(self._messages):
            if any(call.id == call_id for call in message.tool_calls):
                index = position + 1
                while index < len(self._messages) and self._messages[index].role == "tool":
                    index += 1
                break
        self._messages.insert(index, ChatMessage("tool", content, tool_call_id=call_id))
        return index

    def cut_agent_speech(self, index: int, text: str) -> None:
        """Shorten an earlier assistant message to what was heard (removed if nothing)."""
        if text:
            self._messages[index] = ChatMessage("assistant", text, interrupted=True)
        else:
            del self._messages[index]

    def set_instructions(self, instructions: str) -> None:
        """The system message leads the history; replace it, or add one."""
        message = ChatMessage("system", instructions)
        if self._messages and self._messages[0].role == "system":
            self._messages[0] = message
        else:
            self._messages.insert(0, message)
