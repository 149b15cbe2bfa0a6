"""Updates injected as a learner would cause them (a message, a button press, media, blocking or
unblocking the bot), redelivery of an update, the pending queue, and the bot's answers to button presses.
An update for a user the sandbox does not know answers 404."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from pydantic import Field

from mluv.telegram.sandbox.control.protocol import Body, Handler, fail, ok, parse_body, sandbox_of
from mluv.telegram.sandbox.state import JSON
from mluv.telegram.sandbox.updates import UnknownLearner


class MessageBody(Body):
    user_id: int
    text: str = Field(min_length=1)
    chat_id: int | None = None
    reply_to_message_id: int | None = None


class CallbackBody(Body):
    user_id: int
    message_id: int
    data: str
    chat_id: int | None = None


class MediaBody(Body):
    user_id: int
    chat_id: int | None = None
    caption: str | None = None


class UserIdBody(Body):
    user_id: int


class RedeliverBody(Body):
    update_id: int


def _injected(action: Callable[[], JSON]) -> web.Response:
    try:
        return ok(action())
    except UnknownLearner as error:
        return fail(404, str(error))


async def inject_message(request: web.Request) -> web.StreamResponse:
    body, sandbox = await parse_body(request, MessageBody), sandbox_of(request)
    return _injected(
        lambda: sandbox.learner_text(
            body.user_id, body.text, chat_id=body.chat_id, reply_to_message_id=body.reply_to_message_id
        )
    )


async def inject_callback(request: web.Request) -> web.StreamResponse:
    body, sandbox = await parse_body(request, CallbackBody), sandbox_of(request)
    return _injected(
        lambda: sandbox.inject(
            sandbox.learners.callback(body.user_id, body.message_id, body.data, chat_id=body.chat_id)
        )
    )


def inject_media(kind: str) -> Handler:
    """The route for a learner's `kind` of media: sticker, photo or voice."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body, sandbox = await parse_body(request, MediaBody), sandbox_of(request)
        return _injected(
            lambda: sandbox.inject(
                sandbox.learners.media(body.user_id, kind, chat_id=body.chat_id, caption=body.caption)
            )
        )

    return handler


def inject_member(blocked: bool) -> Handler:
    """The route for a learner blocking (or unblocking) the bot: a my_chat_member update."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body, sandbox = await parse_body(request, UserIdBody), sandbox_of(request)
        return _injected(
            lambda: sandbox.inject(sandbox.learners.member_status(body.user_id, blocked=blocked))
        )

    return handler


async def redeliver(request: web.Request) -> web.StreamResponse:
    body, sandbox = await parse_body(request, RedeliverBody), sandbox_of(request)
    try:
        return ok(sandbox.redeliver(body.update_id))
    except KeyError:
        return fail(404, f"unknown update {body.update_id}")


async def pending_updates(request: web.Request) -> web.StreamResponse:
    sandbox = sandbox_of(request)
    return ok({"next_update_id": sandbox.queue.next_update_id, "pending": list(sandbox.queue.pending())})


async def callbacks(request: web.Request) -> web.StreamResponse:
    return ok([record.to_record() for record in sandbox_of(request).state.callbacks.values()])
