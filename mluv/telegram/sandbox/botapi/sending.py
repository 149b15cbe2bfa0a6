"""The methods that put a new bot message into a chat (sendMessage, sendPhoto) and sendChatAction.

A send checks its parameters in Telegram's order, then takes a token from the rate limiter (429 when
none is left), then records the message in the chat, so a refused send leaves no trace but its counter.
"""

from __future__ import annotations

from collections.abc import Callable

from mluv.telegram.sandbox.botapi.calls import (
    CAPTION_TOO_LONG,
    TEXT_TOO_LONG,
    ApiError,
    Call,
    Params,
    bad_request,
    too_many_requests,
)
from mluv.telegram.sandbox.botapi.checks import (
    inline_markup,
    message_caption,
    message_text,
    reachable_chat,
    reply_markup,
)
from mluv.telegram.sandbox.limits import RateLimiter
from mluv.telegram.sandbox.media import image_size, photo_sizes
from mluv.telegram.sandbox.state import JSON, Chat, RecordedMessage, SandboxState


def _replied(params: Params, chat: Chat) -> RecordedMessage | None:
    """The message a send replies to (reply_parameters, or the older reply_to_message_id)."""
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


class SendingMethods:
    """sendMessage, sendPhoto and sendChatAction over the state, limited by the rate limiter."""

    def __init__(self, state: SandboxState, limiter: RateLimiter, on_message: Callable[[], None]) -> None:
        self.state = state
        self.limiter = limiter
        self._on_message = on_message

    def send_message(self, call: Call) -> JSON:
        params = call.params
        text, parsed = message_text(params)
        chat = reachable_chat(self.state, params)
        if len(parsed.text) > self.limiter.config.max_text_length:
            raise ApiError(400, TEXT_TOO_LONG)
        markup = reply_markup(params)
        link_preview = params.decoded("link_preview_options", invalid="can't parse link preview options")
        replied = _replied(params, chat)
        content: JSON = {"text": parsed.text}
        if parsed.entities:
            content["entities"] = parsed.entities
        if isinstance(link_preview, dict) and link_preview:
            content["link_preview_options"] = link_preview
        return self._post(
            call,
            chat,
            replied,
            markup,
            content,
            method="sendMessage",
            text=parsed.text,
            sent_text=text,
            link_preview_options=link_preview if isinstance(link_preview, dict) else None,
        )

    def send_photo(self, call: Call) -> JSON:
        params = call.params
        sent_caption, parsed = message_caption(params)
        chat = reachable_chat(self.state, params)
        if len(parsed.text) > self.limiter.config.max_caption_length:
            raise ApiError(400, CAPTION_TOO_LONG)
        markup = reply_markup(params)
        replied = _replied(params, chat)
        sizes = self._photo(params)
        content: JSON = {"photo": sizes}
        if parsed.text:
            content["caption"] = parsed.text
        if parsed.entities:
            content["caption_entities"] = parsed.entities
        return self._post(
            call,
            chat,
            replied,
            markup,
            content,
            method="sendPhoto",
            caption=parsed.text or None,
            sent_text=sent_caption or None,
            photo_file_id=sizes[-1]["file_id"],
        )

    def send_chat_action(self, call: Call) -> bool:
        reachable_chat(self.state, call.params)
        if not call.params.string("action"):
            raise bad_request("action is empty")
        return True

    def _photo(self, params: Params) -> list[JSON]:
        """The PhotoSize list of the photo sent: an upload, a known file_id, or a URL."""
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

    def _post(
        self,
        call: Call,
        chat: Chat,
        replied: RecordedMessage | None,
        markup: JSON | None,
        content: JSON,
        *,
        method: str,
        sent_text: str | None,
        text: str | None = None,
        caption: str | None = None,
        link_preview_options: JSON | None = None,
        photo_file_id: str | None = None,
    ) -> JSON:
        """The checked send, delivered: rate-limited, then the Message (`content` and the inline keyboard)
        recorded in the chat and returned."""
        sent_at = self.limiter.now()
        paid = call.params.flag("allow_paid_broadcast")
        retry_after = self.limiter.acquire(chat.id, sent_at, paid=paid)
        if retry_after:
            raise too_many_requests(retry_after)
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
        message.update(content)
        inline = inline_markup(markup)
        if inline is not None:
            message["reply_markup"] = inline
        self.state.record(
            chat,
            RecordedMessage(
                message_id=message["message_id"],
                chat_id=chat.id,
                from_bot=True,
                method=method,
                time=self.state.now(),
                message=message,
                text=text,
                caption=caption,
                sent_text=sent_text,
                parse_mode=call.params.string("parse_mode"),
                reply_markup=markup,
                reply_to_message_id=replied.message_id if replied else None,
                link_preview_options=link_preview_options,
                disable_notification=call.params.flag("disable_notification"),
                paid_broadcast=paid,
                photo_file_id=photo_file_id,
                sent_at=sent_at,
            ),
        )
        self._on_message()
        return message
