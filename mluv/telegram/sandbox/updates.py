"""Updates: what learners do (write, press a button, send media, block the bot) and the queue the bot
reads them from with getUpdates or receives them from by webhook. Pure: no aiohttp, no asyncio."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mluv.telegram.sandbox.entities import bot_command_entities
from mluv.telegram.sandbox.media import png_bytes
from mluv.telegram.sandbox.state import JSON, RecordedMessage, SandboxState

# getUpdates without allowed_updates delivers every type except these (Bot API: getUpdates).
_OPT_IN_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# Tiny placeholder media, so that getFile and downloads of what a learner sent work.
_PLACEHOLDER_BYTES = {
    "sticker": (b"RIFF\x0c\x00\x00\x00WEBPVP8 ", "webp"),
    "photo": (png_bytes(1, 1), "png"),
    "voice": (b"OggS\x00\x02" + b"\x00" * 22, "oga"),
}


class UnknownLearner(LookupError):
    """An update names a user (or message) the sandbox does not know."""


def update_type(update: JSON) -> str:
    return next(key for key in update if key != "update_id")


@dataclass(slots=True)
class _Pending:
    update: JSON
    redelivered: bool = False
    handed_out: bool = False  # returned by getUpdates at least once
    in_flight: bool = False  # being POSTed to the webhook


class UpdateQueue:
    """Pending updates in arrival order, confirmed by getUpdates' offset or by webhook answers."""

    def __init__(self, max_pending: int, history: int = 100_000) -> None:
        self.max_pending = max_pending
        self.history_size = history
        self.next_update_id = 1
        self._pending: OrderedDict[int, _Pending] = OrderedDict()
        self._history: OrderedDict[int, JSON] = OrderedDict()
        self._sequence = itertools.count()
        self.allowed_updates: frozenset[str] | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def push(self, payload: JSON) -> JSON:
        """Give the payload the next update_id and queue it."""
        update = {"update_id": self.next_update_id, **payload}
        self.next_update_id += 1
        self._history[update["update_id"]] = update
        if len(self._history) > self.history_size:
            self._history.popitem(last=False)
        self._enqueue(_Pending(update))
        return update

    def redeliver(self, update_id: int) -> JSON:
        """Queue an earlier update again with the same update_id (Telegram may deliver twice)."""
        update = self._history.get(update_id)
        if update is None:
            raise KeyError(update_id)
        self._enqueue(_Pending(update, redelivered=True))
        return update

    def _enqueue(self, pending: _Pending) -> None:
        self._pending[next(self._sequence)] = pending
        if len(self._pending) > self.max_pending:
            self._pending.popitem(last=False)

    def clear(self) -> None:
        self._pending.clear()

    def _allowed(self, update: JSON) -> bool:
        kind = update_type(update)
        if self.allowed_updates is None:
            return kind not in _OPT_IN_TYPES
        return kind in self.allowed_updates

    def set_allowed(self, allowed: list[str] | None) -> None:
        # Telegram remembers allowed_updates from the last call that passed it; [] means the default.
        if allowed is not None:
            self.allowed_updates = frozenset(allowed) if allowed else None

    # -- getUpdates ------------------------------------------------------------------------------------

    def confirm(self, offset: int) -> None:
        """An update is confirmed by getUpdates with a higher offset; -N keeps only the last N."""
        if offset < 0:
            while len(self._pending) > -offset:
                self._pending.popitem(last=False)
            return
        confirmed = []
        for key, pending in self._pending.items():
            if pending.redelivered and not pending.handed_out:
                continue  # a redelivered update is confirmed only once it has been returned again
            if pending.update["update_id"] >= offset:
                break
            confirmed.append(key)
        for key in confirmed:
            del self._pending[key]

    def take(self, limit: int) -> list[JSON]:
        """Up to `limit` updates from the front; a redelivered one comes in a batch of its own, so that
        the client's offset (last update_id + 1) confirms exactly the batch."""
        batch: list[JSON] = []
        dropped = []
        for key, pending in self._pending.items():
            if len(batch) >= limit:
                break
            if not self._allowed(pending.update):
                dropped.append(key)
                continue
            if pending.redelivered and not pending.handed_out:
                if batch:
                    break
                pending.handed_out = True
                batch.append(pending.update)
                break
            pending.handed_out = True
            batch.append(pending.update)
        for key in dropped:
            del self._pending[key]
        return batch

    # -- webhook ---------------------------------------------------------------------------------------

    def take_for_webhook(self, limit: int) -> list[tuple[int, JSON]]:
        """Updates not yet being delivered, oldest first, marked in flight."""
        taken: list[tuple[int, JSON]] = []
        dropped = []
        for key, pending in self._pending.items():
            if len(taken) >= limit:
                break
            if pending.in_flight:
                continue
            if not self._allowed(pending.update):
                dropped.append(key)
                continue
            pending.in_flight = True
            taken.append((key, pending.update))
        for key in dropped:
            del self._pending[key]
        return taken

    def delivered(self, key: int) -> None:
        self._pending.pop(key, None)

    def failed(self, key: int) -> None:
        pending = self._pending.get(key)
        if pending is not None:
            pending.in_flight = False

    def in_flight(self) -> int:
        return sum(1 for pending in self._pending.values() if pending.in_flight)

    def release_in_flight(self) -> None:
        for pending in self._pending.values():
            pending.in_flight = False

    def pending(self) -> Iterator[JSON]:
        return (pending.update for pending in self._pending.values())

    def history(self, update_id: int) -> JSON | None:
        return self._history.get(update_id)


# -- what learners do ----------------------------------------------------------------------------------


class Learners:
    """Builds the updates of learners' actions like Telegram would, recording their messages in chats."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def _user_and_chat(self, user_id: int, chat_id: int | None) -> tuple[JSON, Any]:
        user = self.state.user(user_id)
        if user is None:
            if not self.state.config.auto_create_chats:
                raise UnknownLearner(f"unknown user {user_id}: create it with POST /_sandbox/users")
            user = self.state.add_user(user_id, f"Learner {user_id}").user
            assert user is not None
        chat = self.state.chats[user_id] if chat_id is None else self.state.chats.get(chat_id)
        if chat is None:
            raise UnknownLearner(f"unknown chat {chat_id}")
        return user.to_api(), chat

    def _learner_message(self, user_id: int, chat_id: int | None, method: str, content: JSON) -> JSON:
        user, chat = self._user_and_chat(user_id, chat_id)
        now = self.state.now()
        message = {
            "message_id": chat.take_message_id(),
            "from": user,
            "chat": chat.to_api(),
            "date": int(now),
            **content,
        }
        self.state.record(
            chat,
            RecordedMessage(
                message_id=message["message_id"],
                chat_id=chat.id,
                from_bot=False,
                method=method,
                time=now,
                message=message,
                text=content.get("text"),
                caption=content.get("caption"),
            ),
        )
        return {"message": message}

    def text(
        self, user_id: int, text: str, *, chat_id: int | None = None, reply_to_message_id: int | None = None
    ) -> JSON:
        content: JSON = {"text": text}
        entities = bot_command_entities(text)
        if entities:
            content["entities"] = entities
        if reply_to_message_id is not None:
            chat = self.state.chats.get(chat_id if chat_id is not None else user_id)
            replied = chat.messages.get(reply_to_message_id) if chat else None
            if replied is not None:
                content["reply_to_message"] = replied.message
        return self._learner_message(user_id, chat_id, "learner:text", content)

    def media(
        self, user_id: int, kind: str, *, chat_id: int | None = None, caption: str | None = None
    ) -> JSON:
        data, extension = _PLACEHOLDER_BYTES[kind]
        stored = self.state.store_file(kind, data, extension)
        ids = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": len(data)}
        content: JSON
        if kind == "sticker":
            content = {
                "sticker": {
                    **ids,
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": "👍",
                }
            }
        elif kind == "photo":
            content = {"photo": [{**ids, "width": 1, "height": 1}]}
        elif kind == "voice":
            content = {"voice": {**ids, "duration": 3, "mime_type": "audio/ogg"}}
        else:
            raise ValueError(f"unknown media kind {kind!r}")
        if caption is not None and kind != "sticker":
            content["caption"] = caption
        return self._learner_message(user_id, chat_id, f"learner:{kind}", content)

    def callback(self, user_id: int, message_id: int, data: str, *, chat_id: int | None = None) -> JSON:
        user, chat = self._user_and_chat(user_id, chat_id)
        recorded = chat.messages.get(message_id)
        if recorded is None or not recorded.from_bot:
            raise UnknownLearner(f"chat {chat.id} has no bot message {message_id}")
        record = self.state.new_callback(user_id, chat.id, message_id, data)
        return {
            "callback_query": {
                "id": record.id,
                "from": user,
                "message": recorded.message,
                # Telegram: a stable identifier of the chat the message with the button was sent in.
                "chat_instance": str(abs(hash((chat.id, self.state.config.bot_id))) % 10**18),
                "data": data,
            }
        }

    def member_status(self, user_id: int, *, blocked: bool) -> JSON:
        """Blocking the bot is a my_chat_member update: member -> kicked (and back when unblocking)."""
        user, chat = self._user_and_chat(user_id, None)
        chat.blocked = blocked
        now = int(self.state.now())
        bot = self.state.bot_user()
        member = {"user": bot, "status": "member"}
        kicked = {"user": bot, "status": "kicked", "until_date": 0}
        return {
            "my_chat_member": {
                "chat": chat.to_api(),
                "from": user,
                "date": now,
                "old_chat_member": member if blocked else kicked,
                "new_chat_member": kicked if blocked else member,
            }
        }
