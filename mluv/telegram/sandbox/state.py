"""The sandbox's memory: learners and chats, what each chat received, files, callbacks, counters. Pure
(no aiohttp, no asyncio): every time comes from an injected wall clock, so tests control it."""

from __future__ import annotations

import datetime
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from mluv.telegram.sandbox.config import SandboxConfig, bot_id_of

WallClock = Callable[[], float]
ChatType = Literal["private", "group", "supergroup"]
JSON = dict[str, Any]


def iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC).isoformat(timespec="milliseconds")


def _compact(mapping: JSON) -> JSON:
    """Telegram omits absent optional fields rather than sending nulls."""
    return {key: value for key, value in mapping.items() if value is not None}


@dataclass(slots=True)
class User:
    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = None

    def to_api(self) -> JSON:
        return _compact(
            {
                "id": self.id,
                "is_bot": False,
                "first_name": self.first_name,
                "last_name": self.last_name,
                "username": self.username,
                "language_code": self.language_code,
            }
        )


@dataclass(slots=True)
class Edit:
    time: float
    text: str | None
    caption: str | None
    reply_markup: JSON | None

    def to_record(self) -> JSON:
        return {
            "time": self.time,
            "iso": iso(self.time),
            "text": self.text,
            "caption": self.caption,
            "reply_markup": self.reply_markup,
        }


@dataclass(slots=True)
class RecordedMessage:
    """One message in a chat: sent by the bot (`from_bot`) or written by the learner."""

    message_id: int
    chat_id: int
    from_bot: bool
    method: str
    time: float
    message: JSON  # the Bot API Message object, as last returned (edits included)
    text: str | None = None
    caption: str | None = None
    sent_text: str | None = None  # text or caption as the bot sent it, before parse_mode
    parse_mode: str | None = None
    reply_markup: JSON | None = None
    reply_to_message_id: int | None = None
    link_preview_options: JSON | None = None
    disable_notification: bool = False
    paid_broadcast: bool = False  # sent with allow_paid_broadcast (counted against the paid limit)
    photo_file_id: str | None = None
    edits: list[Edit] = field(default_factory=list)
    deleted: bool = False
    original_text: str | None = None  # text/caption before the first edit
    original_caption: str | None = None
    # The limits' (monotonic) clock when a bot's send was let through: rate windows are checked on it.
    sent_at: float | None = None

    def __post_init__(self) -> None:
        self.original_text, self.original_caption = self.text, self.caption

    def to_record(self) -> JSON:
        return {
            "message_id": self.message_id,
            "chat_id": self.chat_id,
            "from_bot": self.from_bot,
            "method": self.method,
            "time": self.time,
            "iso": iso(self.time),
            "sent_at": self.sent_at,
            "text": self.text,
            "caption": self.caption,
            "sent_text": self.sent_text,
            "parse_mode": self.parse_mode,
            "entities": self.message.get("entities") or self.message.get("caption_entities") or [],
            "reply_markup": self.reply_markup,
            "reply_to_message_id": self.reply_to_message_id,
            "link_preview_options": self.link_preview_options,
            "disable_notification": self.disable_notification,
            "paid_broadcast": self.paid_broadcast,
            "photo_file_id": self.photo_file_id,
            "original_text": self.original_text,
            "original_caption": self.original_caption,
            "edits": [edit.to_record() for edit in self.edits],
            "deleted": self.deleted,
        }


@dataclass(slots=True)
class Chat:
    id: int
    type: ChatType
    title: str | None = None
    user: User | None = None  # the learner of a private chat
    blocked: bool = False  # the learner blocked the bot: sends answer 403
    deactivated: bool = False  # the learner deleted the account: sends answer 403
    messages: dict[int, RecordedMessage] = field(default_factory=dict)
    next_message_id: int = 1
    received: int = 0  # messages the bot sent here, including ones forgotten from `messages`

    def to_api(self) -> JSON:
        if self.type == "private" and self.user is not None:
            return _compact(
                {
                    "id": self.id,
                    "first_name": self.user.first_name,
                    "last_name": self.user.last_name,
                    "username": self.user.username,
                    "type": "private",
                }
            )
        return {"id": self.id, "title": self.title or str(self.id), "type": self.type}

    def full_info(self) -> JSON:
        """getChat's ChatFullInfo: the short chat plus the fields Telegram always sends."""
        return {
            **self.to_api(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def take_message_id(self) -> int:
        # Telegram numbers a private chat's messages in one sequence for both sides.
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def summary(self) -> JSON:
        return {
            **self.to_api(),
            "language_code": self.user.language_code if self.user else None,
            "blocked": self.blocked,
            "deactivated": self.deactivated,
            "received": self.received,
            "messages": len(self.messages),
        }


@dataclass(slots=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str

    def to_api(self) -> JSON:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass(slots=True)
class CallbackRecord:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    time: float
    answered: bool = False
    answer: JSON | None = None

    def to_record(self) -> JSON:
        return {
            "id": self.id,
            "user_id": self.user_id,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "data": self.data,
            "time": self.time,
            "iso": iso(self.time),
            "answered": self.answered,
            "answer": self.answer,
        }


@dataclass(slots=True)
class WebhookSettings:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None

    def to_api(self, pending_update_count: int) -> JSON:
        return _compact(
            {
                "url": self.url,
                "has_custom_certificate": False,
                "pending_update_count": pending_update_count,
                "last_error_date": self.last_error_date,
                "last_error_message": self.last_error_message,
                "max_connections": self.max_connections if self.url else None,
                "allowed_updates": self.allowed_updates if self.url else None,
            }
        )


@dataclass
class Counters:
    """Totals since start or the last reset; `by_method` counts every Bot API request by answer status."""

    sent: int = 0
    edited: int = 0
    deleted: int = 0
    rate_limited: int = 0  # 429
    forbidden: int = 0  # 403
    bad_request: int = 0  # 400
    server_errors: int = 0  # 5xx
    unauthorized: int = 0  # 401
    not_found: int = 0  # 404
    conflicts: int = 0  # 409
    dropped: int = 0  # recorded, answer withheld
    updates: int = 0  # injected (redeliveries included)
    webhook_delivered: int = 0
    webhook_failed: int = 0
    requests: int = 0
    sent_by_method: Counter[str] = field(default_factory=Counter)
    by_method: dict[str, Counter[str]] = field(default_factory=dict)

    def record_status(self, method: str, status: int) -> None:
        self.requests += 1
        per_method = self.by_method.get(method)
        if per_method is None:
            per_method = self.by_method[method] = Counter()
        per_method[str(status)] += 1
        if status == 429:
            self.rate_limited += 1
        elif status == 403:
            self.forbidden += 1
        elif status == 400:
            self.bad_request += 1
        elif status >= 500:
            self.server_errors += 1
        elif status == 401:
            self.unauthorized += 1
        elif status == 404:
            self.not_found += 1
        elif status == 409:
            self.conflicts += 1

    def to_dict(self) -> JSON:
        return {
            "sent": self.sent,
            "edited": self.edited,
            "deleted": self.deleted,
            "rate_limited_429": self.rate_limited,
            "forbidden_403": self.forbidden,
            "bad_request_400": self.bad_request,
            "server_error_5xx": self.server_errors,
            "unauthorized_401": self.unauthorized,
            "not_found_404": self.not_found,
            "conflict_409": self.conflicts,
            "dropped": self.dropped,
            "updates": self.updates,
            "webhook_delivered": self.webhook_delivered,
            "webhook_failed": self.webhook_failed,
            "requests": self.requests,
            "sent_by_method": dict(self.sent_by_method),
            "by_method": {method: dict(statuses) for method, statuses in sorted(self.by_method.items())},
        }


class SandboxState:
    """Chats, learners, recorded messages, files, callbacks, commands, webhook settings and counters."""

    def __init__(self, config: SandboxConfig, wall_clock: WallClock = time.time) -> None:
        self.config = config
        self.now = wall_clock
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.webhook = WebhookSettings()
        self.counters = Counters()
        self._file_sequence = 0
        self._callback_sequence = 0

    # -- the bot ---------------------------------------------------------------------------------------

    def bot_user(self, token: str | None = None) -> JSON:
        bot_id = bot_id_of(token) if token else self.config.bot_id
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": self.config.bot_first_name,
            "username": self.config.bot_username,
        }

    # -- learners and chats ----------------------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "ru",
    ) -> Chat:
        """A learner and the private chat with the bot (same id, as in Telegram); updates if it exists."""
        if user_id <= 0:
            raise ValueError("a user id is a positive integer")
        user = User(user_id, first_name, username, last_name, language_code)
        chat = self.chats.get(user_id)
        if chat is None:
            chat = self.chats[user_id] = Chat(id=user_id, type="private", user=user)
        else:
            chat.user = user
        return chat

    def add_group(self, chat_id: int, title: str, chat_type: ChatType = "supergroup") -> Chat:
        if chat_id >= 0 or chat_type == "private":
            raise ValueError("a group has a negative chat id")
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = self.chats[chat_id] = Chat(id=chat_id, type=chat_type, title=title)
        else:
            chat.title, chat.type = title, chat_type
        return chat

    def user(self, user_id: int) -> User | None:
        chat = self.chats.get(user_id)
        return chat.user if chat is not None else None

    def resolve_chat(self, chat_id: int) -> Chat | None:
        chat = self.chats.get(chat_id)
        if chat is None and self.config.auto_create_chats and chat_id != 0:
            if chat_id > 0:
                chat = self.add_user(chat_id, f"Learner {chat_id}", username=f"learner{chat_id}")
            else:
                chat = self.add_group(chat_id, f"Group {chat_id}")
        return chat

    # -- messages --------------------------------------------------------------------------------------

    def record(self, chat: Chat, message: RecordedMessage) -> None:
        chat.messages[message.message_id] = message
        if message.from_bot:
            chat.received += 1
            self.counters.sent += 1
            self.counters.sent_by_method[message.method] += 1
        # Bounded history: forget the chat's oldest message (dicts keep insertion order).
        if len(chat.messages) > self.config.history_per_chat:
            del chat.messages[next(iter(chat.messages))]

    def messages(self, chat_id: int, *, include_learner: bool = False) -> list[JSON]:
        chat = self.chats.get(chat_id)
        if chat is None:
            return []
        return [
            message.to_record() for message in chat.messages.values() if message.from_bot or include_learner
        ]

    def bot_message_count(self, chat_id: int) -> int:
        chat = self.chats.get(chat_id)
        return chat.received if chat is not None else 0

    # -- files -----------------------------------------------------------------------------------------

    def store_file(self, kind: str, data: bytes, extension: str) -> StoredFile:
        self._file_sequence += 1
        sequence = self._file_sequence
        stored = StoredFile(
            file_id=f"sandbox-{kind}-{sequence:08d}",
            file_unique_id=f"u{kind[:2]}{sequence:08d}",
            kind=kind,
            data=data,
            file_path=f"{kind}s/file_{sequence}.{extension}",
        )
        self.files[stored.file_id] = stored
        return stored

    def file_by_path(self, path: str) -> StoredFile | None:
        return next((stored for stored in self.files.values() if stored.file_path == path), None)

    # -- callbacks and commands ------------------------------------------------------------------------

    def new_callback(self, user_id: int, chat_id: int, message_id: int, data: str) -> CallbackRecord:
        self._callback_sequence += 1
        # Telegram's callback query ids are opaque numeric strings.
        callback_id = str(4_000_000_000_000_000 + self._callback_sequence)
        record = CallbackRecord(callback_id, user_id, chat_id, message_id, data, self.now())
        self.callbacks[callback_id] = record
        return record

    def set_commands(self, scope: JSON | None, language_code: str, commands: list[JSON]) -> None:
        key = (_scope_key(scope), language_code)
        if commands:
            self.commands[key] = commands
        else:
            self.commands.pop(key, None)

    def get_commands(self, scope: JSON | None, language_code: str) -> list[JSON]:
        return list(self.commands.get((_scope_key(scope), language_code), []))


def _scope_key(scope: JSON | None) -> str:
    if not scope:
        return "default"
    parts = [str(scope.get("type", "default"))]
    parts += [f"{key}={scope[key]}" for key in ("chat_id", "user_id") if key in scope]
    return ":".join(parts)
