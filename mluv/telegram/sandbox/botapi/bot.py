"""The methods that put nothing into a chat: the bot's own profile (getMe, the accepted no-ops such as
setMyDescription) and its commands, look-ups (getChat, getFile), and answers to button presses
(answerCallbackQuery, kept on the callback's record for tests to read)."""

from __future__ import annotations

import re

from mluv.telegram.sandbox.botapi.calls import QUERY_TOO_OLD, ApiError, Call, Params, bad_request
from mluv.telegram.sandbox.botapi.checks import chat_of
from mluv.telegram.sandbox.state import JSON, SandboxState

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")


def _commands_scope(params: Params) -> tuple[JSON | None, str]:
    scope = params.decoded("scope", invalid="can't parse BotCommandScope JSON object")
    return (scope if isinstance(scope, dict) else None), params.string("language_code") or ""


class BotMethods:
    """The bot's profile and commands, chat and file look-ups, callback answers."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

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
        scope, language_code = _commands_scope(params)
        self.state.set_commands(scope, language_code, cleaned)
        return True

    def get_my_commands(self, call: Call) -> list[JSON]:
        scope, language_code = _commands_scope(call.params)
        return self.state.get_commands(scope, language_code)

    def delete_my_commands(self, call: Call) -> bool:
        scope, language_code = _commands_scope(call.params)
        self.state.set_commands(scope, language_code, [])
        return True

    def get_chat(self, call: Call) -> JSON:
        return chat_of(self.state, call.params).full_info()

    def get_file(self, call: Call) -> JSON:
        stored = self.state.files.get(call.params.string("file_id") or "")
        if stored is None:
            raise bad_request("invalid file_id")
        return stored.to_api()

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
