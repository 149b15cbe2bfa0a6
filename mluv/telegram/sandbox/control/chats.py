"""Learners, groups and chats: creating them, their summaries and flags, and the messages recorded in
them (with an optional wait until the bot has sent enough)."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from mluv.telegram.sandbox.control.protocol import (
    Body,
    fail,
    invalid,
    ok,
    parse_body,
    path_int,
    query_number,
    raw_json,
    sandbox_of,
)
from mluv.telegram.sandbox.core import Sandbox
from mluv.telegram.sandbox.state import JSON

_MAX_WAIT_SECONDS = 60.0


class UserBody(Body):
    id: int = Field(gt=0)
    first_name: str = Field(default="Learner", min_length=1)
    username: str | None = None
    last_name: str | None = None
    language_code: Literal["ru", "uk", "cs", "en"] | None = "ru"


class UsersBody(Body):
    users: list[UserBody] | None = None
    # or: `count` learners with ids base_id, base_id+1, ... (names and ru/uk alternate)
    count: int | None = Field(default=None, ge=1, le=1_000_000)
    base_id: int = Field(default=700_000_000, gt=0)


class GroupBody(Body):
    id: int = Field(lt=0)
    title: str = Field(min_length=1)
    type: Literal["group", "supergroup"] = "supergroup"


class ChatFlagsBody(Body):
    blocked: bool | None = None
    deactivated: bool | None = None


async def create_users(request: web.Request) -> web.StreamResponse:
    sandbox = sandbox_of(request)
    raw = await raw_json(request)
    model: type[BaseModel] = UserBody if isinstance(raw, dict) and "id" in raw else UsersBody
    try:
        body = model.model_validate(raw)
    except ValidationError as error:
        return invalid(error)
    if isinstance(body, UserBody):
        return ok(_add_user(sandbox, body))
    assert isinstance(body, UsersBody)
    created = [_add_user(sandbox, user) for user in body.users or []]
    if body.count:
        ids = sandbox.simulator.create_learners(body.count, body.base_id)
        created += [sandbox.state.chats[user_id].summary() for user_id in ids]
    return ok(created)


def _add_user(sandbox: Sandbox, user: UserBody) -> JSON:
    return sandbox.add_user(
        user.id,
        user.first_name,
        username=user.username,
        last_name=user.last_name,
        language_code=user.language_code,
    )


async def create_group(request: web.Request) -> web.StreamResponse:
    body = await parse_body(request, GroupBody)
    return ok(sandbox_of(request).state.add_group(body.id, body.title, body.type).summary())


async def list_chats(request: web.Request) -> web.StreamResponse:
    return ok([chat.summary() for chat in sandbox_of(request).state.chats.values()])


async def get_chat(request: web.Request) -> web.StreamResponse:
    chat = sandbox_of(request).state.chats.get(path_int(request, "chat_id"))
    return ok(chat.summary()) if chat else fail(404, "chat not found")


async def set_chat_flags(request: web.Request) -> web.StreamResponse:
    """Flags without updates: e.g. a deleted account (Telegram sends no update for that)."""
    body = await parse_body(request, ChatFlagsBody)
    chat = sandbox_of(request).state.chats.get(path_int(request, "chat_id"))
    if chat is None:
        return fail(404, "chat not found")
    if body.blocked is not None:
        chat.blocked = body.blocked
    if body.deactivated is not None:
        chat.deactivated = body.deactivated
    return ok(chat.summary())


async def chat_messages(request: web.Request) -> web.StreamResponse:
    sandbox = sandbox_of(request)
    chat_id = path_int(request, "chat_id")
    if chat_id not in sandbox.state.chats:
        return fail(404, "chat not found")
    wait_for = int(query_number(request, "wait_for", 0))
    if wait_for > 0:
        within = min(query_number(request, "timeout", 5.0), _MAX_WAIT_SECONDS)
        await sandbox.wait_for_messages(chat_id, wait_for, within)
    include_learner = request.query.get("include_learner", "").lower() in {"1", "true", "yes"}
    return ok(sandbox.state.messages(chat_id, include_learner=include_learner))


async def all_messages(request: web.Request) -> web.StreamResponse:
    """The latest messages the bot sent, across chats, oldest first."""
    sandbox = sandbox_of(request)
    limit = min(max(int(query_number(request, "limit", 100)), 1), 10_000)
    messages = [
        message
        for chat in sandbox.state.chats.values()
        for message in chat.messages.values()
        if message.from_bot
    ]
    messages.sort(key=lambda message: message.time)
    return ok([message.to_record() for message in messages[-limit:]])
