"""The Bot API methods the sandbox answers, over its state: synchronous and free of aiohttp.

Each method takes a `Call` (token + parameters as Telegram accepts them) and returns the `result` of
Telegram's answer, or raises `ApiError` carrying Telegram's exact status and description.
getUpdates is the one asynchronous method; the server implements its waiting around `UpdateQueue`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mluv.telegram.sandbox.entities import EntityParseError, ParsedText, format_text
from mluv.telegram.sandbox.limits import RateLimiter
from mluv.telegram.sandbox.media import image_size, photo_sizes
from mluv.telegram.sandbox.state import JSON, Chat, Edit, RecordedMessage, SandboxState
from mluv.telegram.sandbox.updates import UpdateQueue

# Telegram's descriptions, byte for byte (what clients and aiogram's exceptions carry).
UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "Not Found"
BLOCKED = "Forbidden: bot was blocked by the user"
DEACTIVATED = "Forbidden: user is deactivated"
CHAT_NOT_FOUND = "Bad Request: chat not found"
TEXT_EMPTY = "Bad Request: message text is empty"
TEXT_TOO_LONG = "Bad Request: message is too long"
CAPTION_TOO_LONG = "Bad Request: message caption is too long"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
MESSAGE_TO_EDIT_NOT_FOUND = "Bad Request: message to edit not found"
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_TERMINATED = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
INTERNAL_SERVER_ERROR = "Internal Server Error"
BAD_GATEWAY = "Bad Gateway"

# Methods that count against the send limits and receive send faults.
SEND_METHODS = frozenset({"sendMessage", "sendPhoto"})
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


class ApiError(Exception):
    """An unsuccessful Bot API answer: {"ok":false,"error_code":...,"description":...[,"parameters"]}."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(message: str) -> ApiError:
    return ApiError(400, f"Bad Request: {message}")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Described:
    """A successful answer that also carries a description, like setWebhook's "Webhook was set"."""

    result: Any
    description: str


class Params:
    """Parameters from the query string, a form or a JSON body; form values are strings (complex ones
    JSON-encoded, as aiogram sends them), JSON body values arrive already typed."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def raw(self, name: str) -> Any:
        return self._values.get(name)

    def string(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is None or isinstance(value, Upload):
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str, *, invalid: str | None = None) -> int | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(invalid or f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self._values.get(name)
        if isinstance(value, bool):
            return value
        if value is None:
            return False
        return str(value).strip().lower() in {"true", "1", "yes"}

    def decoded(self, name: str, *, invalid: str) -> Any:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(invalid) from None
        return value

    def upload(self, name: str) -> Upload | str | None:
        """An uploaded file, or the string naming one (file_id, URL); attach://<field> is resolved."""
        value = self._values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = self._values.get(value.removeprefix("attach://"))
        if value is None or isinstance(value, Upload | str):
            return value
        return None


@dataclass(frozen=True, slots=True)
class Call:
    token: str
    params: Params


Handler = Callable[[Call], Any]


class BotApi:
    """Telegram's methods over the sandbox state; `methods` maps lower-case names (Telegram ignores the
    case of method names) to their canonical name and implementation."""

    def __init__(
        self,
        state: SandboxState,
        queue: UpdateQueue,
        limiter: RateLimiter,
        *,
        on_webhook_change: Callable[[], None] = lambda: None,
        on_message: Callable[[], None] = lambda: None,
    ) -> None:
        self.state = state
        self.queue = queue
        self.limiter = limiter
        self._on_webhook_change = on_webhook_change
        self._on_message = on_message
        handlers: dict[str, Handler] = {
            "getMe": self.get_me,
            "logOut": self.always_true,
            "close": self.always_true,
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "sendChatAction": self.send_chat_action,
            "answerCallbackQuery": self.answer_callback_query,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "setMyDescription": self.always_true,
            "setMyShortDescription": self.always_true,
            "setMyName": self.always_true,
            "setChatMenuButton": self.always_true,
            "getChat": self.get_chat,
            "getFile": self.get_file,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
        }
        self.methods: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in handlers.items()
        }

    # -- helpers ---------------------------------------------------------------------------------------

    def _chat(self, params: Params) -> Chat:
        raw = params.raw("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        try:
            chat_id = int(raw) if not isinstance(raw, bool) else None
        except (TypeError, ValueError):
            chat_id = None  # "@channelusername": the sandbox has no public channels
        chat = self.state.resolve_chat(chat_id) if chat_id is not None else None
        if chat is None:
            raise ApiError(400, CHAT_NOT_FOUND)
        return chat

    def _reachable_chat(self, params: Params) -> Chat:
        chat = self._chat(params)
        if chat.deactivated:
            raise ApiError(403, DEACTIVATED)
        if chat.blocked:
            raise ApiError(403, BLOCKED)
        return chat

    def _rate_limit(self, chat: Chat) -> None:
        retry_after = self.limiter.acquire(chat.id)
        if retry_after:
            raise too_many_requests(retry_after)

    def _formatted(self, params: Params, text: str, entities_param: str) -> ParsedText:
        parse_mode = params.string("parse_mode") or None
        try:
            parsed = format_text(text, parse_mode)
        except EntityParseError as error:
            raise bad_request(f"can't parse entities: {error}") from None
        if parse_mode is None:
            entities = params.decoded(entities_param, invalid="can't parse entities JSON object")
            if isinstance(entities, list):
                parsed.entities = entities
        return parsed

    def _reply_markup(self, params: Params) -> JSON | None:
        markup = params.decoded("reply_markup", invalid="can't parse reply keyboard markup JSON object")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        keyboard = markup.get("inline_keyboard")
        if keyboard is not None:
            if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
                raise bad_request(
                    "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                )
            for row in keyboard:
                for button in row:
                    if not isinstance(button, dict) or not button.get("text"):
                        raise bad_request("can't parse inline keyboard button: Text must be non-empty")
                    data = button.get("callback_data")
                    # Telegram: callback_data is 1-64 bytes.
                    if data is not None and not 1 <= len(str(data).encode()) <= 64:
                        raise bad_request("BUTTON_DATA_INVALID")
        return markup

    @staticmethod
    def _inline_markup(markup: JSON | None) -> JSON | None:
        # A Message carries only inline keyboards; reply keyboards are not echoed back.
        return markup if markup is not None and "inline_keyboard" in markup else None

    def _replied(self, params: Params, chat: Chat) -> RecordedMessage | None:
        reply = params.decoded("reply_parameters", invalid="can't parse reply parameters JSON object")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_without = bool(reply.get("allow_sending_without_reply"))
        else:
            message_id = params.integer("reply_to_message_id")
            allow_without = params.flag("allow_sending_without_reply")
        if message_id is None:
            return None
        replied = chat.messages.get(int(message_id))
        if replied is None or replied.deleted:
            if allow_without:
                return None
            raise bad_request("message to be replied not found")
        return replied

    def _base_message(self, call: Call, chat: Chat, replied: RecordedMessage | None) -> JSON:
        message: JSON = {
            "message_id": chat.take_message_id(),
            "from": self.state.bot_user(call.token),
            "chat": chat.to_api(),
            "date": int(self.state.now()),
        }
        if replied is not None:
            message["reply_to_message"] = {
                key: value for key, value in replied.message.items() if key != "reply_to_message"
            }
        return message

    def _bot_message(self, params: Params) -> tuple[Chat, RecordedMessage]:
        if params.string("inline_message_id"):
            raise ApiError(400, MESSAGE_TO_EDIT_NOT_FOUND)  # the sandbox has no inline messages
        chat = self._reachable_chat(params)
        message_id = params.integer("message_id", invalid="message identifier is not specified")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        recorded = chat.messages.get(message_id)
        if recorded is None or not recorded.from_bot or recorded.deleted:
            raise ApiError(400, MESSAGE_TO_EDIT_NOT_FOUND)
        return chat, recorded

    def _apply_edit(self, recorded: RecordedMessage, changes: JSON, markup: JSON | None) -> JSON:
        message = {key: value for key, value in recorded.message.items() if key not in changes}
        for key, value in changes.items():
            if value:
                message[key] = value
        message.pop("reply_markup", None)
        inline = self._inline_markup(markup)
        if inline is not None:
            message["reply_markup"] = inline
        now = self.state.now()
        message["edit_date"] = int(now)
        recorded.message = message
        recorded.reply_markup = markup
        recorded.edits.append(Edit(now, recorded.text, recorded.caption, markup))
        self.state.counters.edited += 1
        self._on_message()
        return message

    # -- methods ---------------------------------------------------------------------------------------

    def always_true(self, call: Call) -> bool:
        return True

    def get_me(self, call: Call) -> JSON:
        return {
            **self.state.bot_user(call.token),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def send_message(self, call: Call) -> JSON:
        params = call.params
        text = params.string("text")
        if not text:
            raise ApiError(400, TEXT_EMPTY)
        parsed = self._formatted(params, text, "entities")
        if not parsed.text:
            raise ApiError(400, TEXT_EMPTY)
        chat = self._reachable_chat(params)
        if len(parsed.text) > self.limiter.config.max_text_length:
            raise ApiError(400, TEXT_TOO_LONG)
        markup = self._reply_markup(params)
        link_preview = params.decoded("link_preview_options", invalid="can't parse link preview options")
        replied = self._replied(params, chat)
        self._rate_limit(chat)
        message = self._base_message(call, chat, replied)
        message["text"] = parsed.text
        if parsed.entities:
            message["entities"] = parsed.entities
        if isinstance(link_preview, dict) and link_preview:
            message["link_preview_options"] = link_preview
        inline = self._inline_markup(markup)
        if inline is not None:
            message["reply_markup"] = inline
        self.state.record(
            chat,
            RecordedMessage(
                message_id=message["message_id"],
                chat_id=chat.id,
                from_bot=True,
                method="sendMessage",
                time=self.state.now(),
                message=message,
                text=parsed.text,
                sent_text=text,
                parse_mode=params.string("parse_mode"),
                reply_markup=markup,
                reply_to_message_id=replied.message_id if replied else None,
                link_preview_options=link_preview if isinstance(link_preview, dict) else None,
                disable_notification=params.flag("disable_notification"),
            ),
        )
        self._on_message()
        return message

    def _photo(self, params: Params) -> list[JSON]:
        photo = params.upload("photo")
        if photo is None or photo == "":
            raise bad_request("there is no photo in the request")
        if isinstance(photo, str):
            stored = self.state.files.get(photo)
            if stored is not None:
                data = stored.data
            elif photo.startswith(("http://", "https://")):
                data = b""  # Telegram would download it; the sandbox records the URL and invents a size
            else:
                raise bad_request("wrong file identifier/HTTP URL specified")
        else:
            data = photo.data
            if not data:
                raise bad_request("file must be non-empty")
        if data:
            recognised = image_size(data)
            if recognised is None:
                raise bad_request("IMAGE_PROCESS_FAILED")
            extension, width, height = recognised
        else:
            extension, width, height = "jpg", 800, 600
        sizes = []
        for size_width, size_height in photo_sizes(width, height):
            stored = self.state.store_file("photo", data, extension)
            sizes.append({**stored.to_api(), "width": size_width, "height": size_height})
            sizes[-1].pop("file_path")
        return sizes

    def send_photo(self, call: Call) -> JSON:
        params = call.params
        caption = params.string("caption") or ""
        parsed = self._formatted(params, caption, "caption_entities") if caption else ParsedText("")
        chat = self._reachable_chat(params)
        if len(parsed.text) > self.limiter.config.max_caption_length:
            raise ApiError(400, CAPTION_TOO_LONG)
        markup = self._reply_markup(params)
        replied = self._replied(params, chat)
        sizes = self._photo(params)
        self._rate_limit(chat)
        message = self._base_message(call, chat, replied)
        message["photo"] = sizes
        if parsed.text:
            message["caption"] = parsed.text
        if parsed.entities:
            message["caption_entities"] = parsed.entities
        inline = self._inline_markup(markup)
        if inline is not None:
            message["reply_markup"] = inline
        self.state.record(
            chat,
            RecordedMessage(
                message_id=message["message_id"],
                chat_id=chat.id,
                from_bot=True,
                method="sendPhoto",
                time=self.state.now(),
                message=message,
                caption=parsed.text or None,
                sent_text=caption or None,
                parse_mode=params.string("parse_mode"),
                reply_markup=markup,
                reply_to_message_id=replied.message_id if replied else None,
                disable_notification=params.flag("disable_notification"),
                photo_file_id=sizes[-1]["file_id"],
            ),
        )
        self._on_message()
        return message

    def edit_message_text(self, call: Call) -> JSON:
        params = call.params
        text = params.string("text")
        if not text:
            raise ApiError(400, TEXT_EMPTY)
        parsed = self._formatted(params, text, "entities")
        if not parsed.text:
            raise ApiError(400, TEXT_EMPTY)
        _chat, recorded = self._bot_message(params)
        if recorded.text is None:
            raise bad_request("there is no text in the message to edit")
        if len(parsed.text) > self.limiter.config.max_text_length:
            raise ApiError(400, TEXT_TOO_LONG)
        markup = self._reply_markup(params)
        # Without reply_markup, Telegram removes the inline keyboard; so the markup is part of "modified".
        unchanged = (
            parsed.text == recorded.text
            and parsed.entities == recorded.message.get("entities", [])
            and self._inline_markup(markup) == recorded.message.get("reply_markup")
        )
        if unchanged:
            raise ApiError(400, NOT_MODIFIED)
        recorded.text = parsed.text
        recorded.sent_text = text
        recorded.parse_mode = params.string("parse_mode")
        return self._apply_edit(recorded, {"text": parsed.text, "entities": parsed.entities}, markup)

    def edit_message_caption(self, call: Call) -> JSON:
        params = call.params
        caption = params.string("caption") or ""
        parsed = self._formatted(params, caption, "caption_entities") if caption else ParsedText("")
        _chat, recorded = self._bot_message(params)
        if recorded.photo_file_id is None:
            raise bad_request("there is no caption in the message to edit")
        if len(parsed.text) > self.limiter.config.max_caption_length:
            raise ApiError(400, CAPTION_TOO_LONG)
        markup = self._reply_markup(params)
        unchanged = (
            parsed.text == (recorded.caption or "")
            and parsed.entities == recorded.message.get("caption_entities", [])
            and self._inline_markup(markup) == recorded.message.get("reply_markup")
        )
        if unchanged:
            raise ApiError(400, NOT_MODIFIED)
        recorded.caption = parsed.text or None
        changes = {"caption": parsed.text, "caption_entities": parsed.entities}
        return self._apply_edit(recorded, changes, markup)

    def edit_message_reply_markup(self, call: Call) -> JSON:
        params = call.params
        _chat, recorded = self._bot_message(params)
        markup = self._reply_markup(params)
        if self._inline_markup(markup) == recorded.message.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        return self._apply_edit(recorded, {}, markup)

    def delete_message(self, call: Call) -> bool:
        params = call.params
        chat = self._chat(params)
        message_id = params.integer("message_id", invalid="message identifier is not specified")
        recorded = chat.messages.get(message_id) if message_id is not None else None
        if recorded is None or recorded.deleted:
            raise bad_request("message to delete not found")
        recorded.deleted = True
        self.state.counters.deleted += 1
        self._on_message()
        return True

    def send_chat_action(self, call: Call) -> bool:
        self._reachable_chat(call.params)
        if not call.params.string("action"):
            raise bad_request("action is empty")
        return True

    def answer_callback_query(self, call: Call) -> bool:
        params = call.params
        record = self.state.callbacks.get(params.string("callback_query_id") or "")
        if record is None or record.answered:
            raise ApiError(400, QUERY_TOO_OLD)
        record.answered = True
        record.answer = {
            "text": params.string("text"),
            "show_alert": params.flag("show_alert"),
            "url": params.string("url"),
            "cache_time": params.integer("cache_time"),
        }
        return True

    def _commands_scope(self, params: Params) -> tuple[JSON | None, str]:
        scope = params.decoded("scope", invalid="can't parse BotCommandScope JSON object")
        return (scope if isinstance(scope, dict) else None), params.string("language_code") or ""

    def set_my_commands(self, call: Call) -> bool:
        params = call.params
        commands = params.decoded("commands", invalid="can't parse commands JSON object")
        if not isinstance(commands, list):
            raise bad_request("can't parse commands JSON object")
        cleaned = []
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND.fullmatch(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("command description must be non-empty")
            cleaned.append({"command": command["command"], "description": command["description"]})
        scope, language_code = self._commands_scope(params)
        self.state.set_commands(scope, language_code, cleaned)
        return True

    def get_my_commands(self, call: Call) -> list[JSON]:
        scope, language_code = self._commands_scope(call.params)
        return self.state.get_commands(scope, language_code)

    def delete_my_commands(self, call: Call) -> bool:
        scope, language_code = self._commands_scope(call.params)
        self.state.set_commands(scope, language_code, [])
        return True

    def get_chat(self, call: Call) -> JSON:
        return self._chat(call.params).full_info()

    def get_file(self, call: Call) -> JSON:
        stored = self.state.files.get(call.params.string("file_id") or "")
        if stored is None:
            raise bad_request("invalid file_id")
        return stored.to_api()

    def set_webhook(self, call: Call) -> Described:
        params = call.params
        url = params.string("url") or ""
        if not url:
            # Telegram: setWebhook with an empty url removes the webhook.
            return self.delete_webhook(call)
        if not url.startswith(("https://", "http://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.string("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = params.integer("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = params.decoded("allowed_updates", invalid="can't parse allowed updates JSON object")
        webhook = self.state.webhook
        if (
            webhook.url == url
            and webhook.secret_token == secret
            and webhook.max_connections == max_connections
        ):
            description = "Webhook is already set"
        else:
            description = "Webhook was set"
        if params.flag("drop_pending_updates"):
            self.queue.clear()
        webhook.url, webhook.secret_token, webhook.max_connections = url, secret, max_connections
        webhook.last_error_date = webhook.last_error_message = None
        if isinstance(allowed, list):
            webhook.allowed_updates = [str(kind) for kind in allowed]
            self.queue.set_allowed(webhook.allowed_updates)
        self._on_webhook_change()
        return Described(True, description)

    def delete_webhook(self, call: Call) -> Described:
        webhook = self.state.webhook
        description = "Webhook was deleted" if webhook.url else "Webhook is already deleted"
        if call.params.flag("drop_pending_updates"):
            self.queue.clear()
        webhook.url, webhook.secret_token = "", None
        webhook.last_error_date = webhook.last_error_message = None
        self._on_webhook_change()
        return Described(True, description)

    def get_webhook_info(self, call: Call) -> JSON:
        return self.state.webhook.to_api(len(self.queue))
