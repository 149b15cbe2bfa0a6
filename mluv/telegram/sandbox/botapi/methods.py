"""`BotApi`: every method the sandbox answers, by Telegram's name, over the families that implement them.

Telegram ignores the case of method names, so the table is looked up by the lower-case name and gives
back the canonical one (for counters and answers). getUpdates is not in the table: `Sandbox` answers it.
"""

from __future__ import annotations

from collections.abc import Callable

from mluv.telegram.sandbox.botapi.bot import BotMethods
from mluv.telegram.sandbox.botapi.calls import Handler
from mluv.telegram.sandbox.botapi.editing import EditingMethods
from mluv.telegram.sandbox.botapi.sending import SendingMethods
from mluv.telegram.sandbox.botapi.webhook import WebhookMethods
from mluv.telegram.sandbox.limits import RateLimiter
from mluv.telegram.sandbox.state import SandboxState
from mluv.telegram.sandbox.updates import UpdateQueue

# Methods that count against the send limits and receive send faults.
SEND_METHODS = frozenset({"sendMessage", "sendPhoto"})


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
        bot = BotMethods(state)
        sending = SendingMethods(state, limiter, on_message)
        editing = EditingMethods(state, limiter, on_message)
        webhook = WebhookMethods(state, queue, on_webhook_change)
        handlers: dict[str, Handler] = {
            "getMe": bot.get_me,
            "logOut": bot.always_true,
            "close": bot.always_true,
            "sendMessage": sending.send_message,
            "sendPhoto": sending.send_photo,
            "editMessageText": editing.edit_message_text,
            "editMessageCaption": editing.edit_message_caption,
            "editMessageReplyMarkup": editing.edit_message_reply_markup,
            "deleteMessage": editing.delete_message,
            "sendChatAction": sending.send_chat_action,
            "answerCallbackQuery": bot.answer_callback_query,
            "setMyCommands": bot.set_my_commands,
            "getMyCommands": bot.get_my_commands,
            "deleteMyCommands": bot.delete_my_commands,
            "setMyDescription": bot.always_true,
            "setMyShortDescription": bot.always_true,
            "setMyName": bot.always_true,
            "setChatMenuButton": bot.always_true,
            "getChat": bot.get_chat,
            "getFile": bot.get_file,
            "setWebhook": webhook.set_webhook,
            "deleteWebhook": webhook.delete_webhook,
            "getWebhookInfo": webhook.get_webhook_info,
        }
        self.methods: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in handlers.items()
        }
