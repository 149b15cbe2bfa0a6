"""The parameters several methods read the same way: the target chat (known, and reachable for a send),
the text or caption with its parse mode or entities, and the reply markup with Telegram's limits.

Each check raises `ApiError` with Telegram's description, so a method reads its parameters in the order
Telegram checks them and the first failing one answers."""

from __future__ import annotations

from mluv.telegram.sandbox.botapi.calls import (
    BLOCKED,
    CHAT_NOT_FOUND,
    DEACTIVATED,
    TEXT_EMPTY,
    ApiError,
    Params,
    bad_request,
)
from mluv.telegram.sandbox.entities import EntityParseError, ParsedText, format_text
from mluv.telegram.sandbox.state import JSON, Chat, SandboxState


def chat_of(state: SandboxState, params: Params) -> Chat:
    """The chat `chat_id` names; 400 "chat not found" for an unknown one."""
    raw = params.raw("chat_id")
    if raw is None or raw == "":
        raise bad_request("chat_id is empty")
    try:
        chat_id = int(raw) if not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        chat_id = None  # "@channelusername": the sandbox has no public channels
    chat = state.resolve_chat(chat_id) if chat_id is not None else None
    if chat is None:
        raise ApiError(400, CHAT_NOT_FOUND)
    return chat


def reachable_chat(state: SandboxState, params: Params) -> Chat:
    """The chat, unless its learner deleted the account or blocked the bot (403)."""
    chat = chat_of(state, params)
    if chat.deactivated:
        raise ApiError(403, DEACTIVATED)
    if chat.blocked:
        raise ApiError(403, BLOCKED)
    return chat


def formatted(params: Params, text: str, entities_param: str) -> ParsedText:
    """The text as shown: parsed by `parse_mode`, or with the entities given in `entities_param`."""
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


def message_text(params: Params) -> tuple[str, ParsedText]:
    """`text` as sent and as shown; neither may be empty."""
    text = params.string("text")
    if not text:
        raise ApiError(400, TEXT_EMPTY)
    parsed = formatted(params, text, "entities")
    if not parsed.text:
        raise ApiError(400, TEXT_EMPTY)
    return text, parsed


def message_caption(params: Params) -> tuple[str, ParsedText]:
    """`caption` as sent and as shown; both empty when there is none."""
    sent = params.string("caption") or ""
    return sent, formatted(params, sent, "caption_entities") if sent else ParsedText("")


def reply_markup(params: Params) -> JSON | None:
    markup = params.decoded("reply_markup", invalid="can't parse reply keyboard markup JSON object")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    keyboard = markup.get("inline_keyboard")
    if keyboard is not None:
        if not isinstance(keyboard, list) or not all(isinstance(row, list) for row in keyboard):
            raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        for row in keyboard:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise bad_request("can't parse inline keyboard button: Text must be non-empty")
                data = button.get("callback_data")
                # Telegram: callback_data is 1-64 bytes.
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")
    return markup


def inline_markup(markup: JSON | None) -> JSON | None:
    # A Message carries only inline keyboards; reply keyboards are not echoed back.
    return markup if markup is not None and "inline_keyboard" in markup else None
