"""The methods that change a message already in a chat: editMessageText, editMessageCaption,
editMessageReplyMarkup and deleteMessage.

Edits apply only to the bot's own messages that still exist (else "message to edit not found"), and
Telegram refuses an edit that changes nothing ("message is not modified"). Each edit is kept in the
message's history (`RecordedMessage.edits`) and counted.
"""

from __future__ import annotations

from collections.abc import Callable

from mluv.telegram.sandbox.botapi.calls import (
    CAPTION_TOO_LONG,
    MESSAGE_TO_EDIT_NOT_FOUND,
    NOT_MODIFIED,
    TEXT_TOO_LONG,
    ApiError,
    Call,
    Params,
    bad_request,
)
from mluv.telegram.sandbox.botapi.checks import (
    chat_of,
    inline_markup,
    message_caption,
    message_text,
    reachable_chat,
    reply_markup,
)
from mluv.telegram.sandbox.limits import RateLimiter
from mluv.telegram.sandbox.state import JSON, Edit, RecordedMessage, SandboxState


def _ensure_modified(recorded: RecordedMessage, markup: JSON | None, *, same_content: bool = True) -> None:
    """400 "message is not modified" when neither the content nor the inline keyboard would change."""
    # Without reply_markup, Telegram removes the inline keyboard; so the markup is part of "modified".
    if same_content and inline_markup(markup) == recorded.message.get("reply_markup"):
        raise ApiError(400, NOT_MODIFIED)


class EditingMethods:
    """Edits and deletion of recorded messages; `limiter` only for its configured length limits."""

    def __init__(self, state: SandboxState, limiter: RateLimiter, on_message: Callable[[], None]) -> None:
        self.state = state
        self.limiter = limiter
        self._on_message = on_message

    def edit_message_text(self, call: Call) -> JSON:
        params = call.params
        text, parsed = message_text(params)
        recorded = self._bot_message(params)
        if recorded.text is None:
            raise bad_request("there is no text in the message to edit")
        if len(parsed.text) > self.limiter.config.max_text_length:
            raise ApiError(400, TEXT_TOO_LONG)
        markup = reply_markup(params)
        entities = recorded.message.get("entities", [])
        same_content = parsed.text == recorded.text and parsed.entities == entities
        _ensure_modified(recorded, markup, same_content=same_content)
        recorded.text = parsed.text
        recorded.sent_text = text
        recorded.parse_mode = params.string("parse_mode")
        return self._apply_edit(recorded, {"text": parsed.text, "entities": parsed.entities}, markup)

    def edit_message_caption(self, call: Call) -> JSON:
        params = call.params
        _sent, parsed = message_caption(params)
        recorded = self._bot_message(params)
        if recorded.photo_file_id is None:
            raise bad_request("there is no caption in the message to edit")
        if len(parsed.text) > self.limiter.config.max_caption_length:
            raise ApiError(400, CAPTION_TOO_LONG)
        markup = reply_markup(params)
        entities = recorded.message.get("caption_entities", [])
        same_content = parsed.text == (recorded.caption or "") and parsed.entities == entities
        _ensure_modified(recorded, markup, same_content=same_content)
        recorded.caption = parsed.text or None
        changes = {"caption": parsed.text, "caption_entities": parsed.entities}
        return self._apply_edit(recorded, changes, markup)

    def edit_message_reply_markup(self, call: Call) -> JSON:
        params = call.params
        recorded = self._bot_message(params)
        markup = reply_markup(params)
        _ensure_modified(recorded, markup)
        return self._apply_edit(recorded, {}, markup)

    def delete_message(self, call: Call) -> bool:
        params = call.params
        chat = chat_of(self.state, params)
        message_id = params.integer("message_id", invalid="message identifier is not specified")
        recorded = chat.messages.get(message_id) if message_id is not None else None
        if recorded is None or recorded.deleted:
            raise bad_request("message to delete not found")
        recorded.deleted = True
        self.state.counters.deleted += 1
        self._on_message()
        return True

    def _bot_message(self, params: Params) -> RecordedMessage:
        """The bot's message to edit, in a chat it can still reach."""
        if params.string("inline_message_id"):
            raise ApiError(400, MESSAGE_TO_EDIT_NOT_FOUND)  # the sandbox has no inline messages
        chat = reachable_chat(self.state, params)
        message_id = params.integer("message_id", invalid="message identifier is not specified")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        recorded = chat.messages.get(message_id)
        if recorded is None or not recorded.from_bot or recorded.deleted:
            raise ApiError(400, MESSAGE_TO_EDIT_NOT_FOUND)
        return recorded

    def _apply_edit(self, recorded: RecordedMessage, changes: JSON, markup: JSON | None) -> JSON:
        message = {key: value for key, value in recorded.message.items() if key not in changes}
        for key, value in changes.items():
            if value:
                message[key] = value
        message.pop("reply_markup", None)
        inline = inline_markup(markup)
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
