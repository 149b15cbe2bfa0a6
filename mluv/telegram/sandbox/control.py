"""The control API under /_sandbox/: learners, injected updates, recorded messages, counters, limits,
faults, the simulator and reset, as JSON ({"ok": true, "result": ...} or {"ok": false, "error": ...});
plus a small HTML page at /_sandbox/ to look around and chat as a learner."""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mluv.telegram.sandbox.core import SANDBOX_KEY, Sandbox
from mluv.telegram.sandbox.state import JSON
from mluv.telegram.sandbox.updates import UnknownLearner

PREFIX = "/_sandbox"
Model = TypeVar("Model", bound=BaseModel)
_MAX_WAIT_SECONDS = 60.0


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserBody(_Body):
    id: int = Field(gt=0)
    first_name: str = Field(default="Learner", min_length=1)
    username: str | None = None
    last_name: str | None = None
    language_code: Literal["ru", "uk", "cs", "en"] | None = "ru"


class UsersBody(_Body):
    users: list[UserBody] | None = None
    # or: `count` learners with ids base_id, base_id+1, ... (names and ru/uk alternate)
    count: int | None = Field(default=None, ge=1, le=1_000_000)
    base_id: int = Field(default=700_000_000, gt=0)


class GroupBody(_Body):
    id: int = Field(lt=0)
    title: str = Field(min_length=1)
    type: Literal["group", "supergroup"] = "supergroup"


class ChatFlagsBody(_Body):
    blocked: bool | None = None
    deactivated: bool | None = None


class MessageBody(_Body):
    user_id: int
    text: str = Field(min_length=1)
    chat_id: int | None = None
    reply_to_message_id: int | None = None


class CallbackBody(_Body):
    user_id: int
    message_id: int
    data: str
    chat_id: int | None = None


class MediaBody(_Body):
    user_id: int
    chat_id: int | None = None
    caption: str | None = None


class UserIdBody(_Body):
    user_id: int


class RedeliverBody(_Body):
    update_id: int


class SimulateBody(_Body):
    learners: int = Field(ge=1, le=1_000_000)
    rate: float = Field(gt=0)
    seconds: float | None = Field(default=None, gt=0)
    base_id: int = Field(default=700_000_000, gt=0)
    seed: int = 0


class ResetBody(_Body):
    keep_users: bool = False


def ok(result: Any, status: int = 200) -> web.Response:
    return web.json_response({"ok": True, "result": result}, status=status)


def fail(status: int, error: Any) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status)


def invalid(error: ValidationError) -> web.Response:
    # error.json() turns the exceptions in a validator's context into text; errors() would keep objects.
    return fail(400, json.loads(error.json(include_url=False)))


async def _raw_json(request: web.Request) -> Any:
    if not request.body_exists:
        return {}
    try:
        return await request.json()
    except ValueError:
        raise web.HTTPBadRequest(
            text='{"ok":false,"error":"the body must be JSON"}', content_type="application/json"
        ) from None


async def _body(request: web.Request, model: type[Model]) -> Model:
    raw = await _raw_json(request)
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise web.HTTPBadRequest(text=invalid(error).text, content_type="application/json") from None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _sandbox(request: web.Request) -> Sandbox:
    return request.app[SANDBOX_KEY]


def _int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound(
            text=f'{{"ok":false,"error":"{name} must be an integer"}}', content_type="application/json"
        ) from None


def _query_number(request: web.Request, name: str, default: float) -> float:
    try:
        return float(request.query.get(name) or default)
    except ValueError:
        raise web.HTTPBadRequest(
            text=f'{{"ok":false,"error":"{name} must be a number"}}', content_type="application/json"
        ) from None


# -- learners and chats ---------------------------------------------------------------------------------


async def create_users(request: web.Request) -> web.StreamResponse:
    sandbox = _sandbox(request)
    raw = await _raw_json(request)
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
    body = await _body(request, GroupBody)
    return ok(_sandbox(request).state.add_group(body.id, body.title, body.type).summary())


async def list_chats(request: web.Request) -> web.StreamResponse:
    return ok([chat.summary() for chat in _sandbox(request).state.chats.values()])


async def get_chat(request: web.Request) -> web.StreamResponse:
    chat = _sandbox(request).state.chats.get(_int(request, "chat_id"))
    return ok(chat.summary()) if chat else fail(404, "chat not found")


async def set_chat_flags(request: web.Request) -> web.StreamResponse:
    """Flags without updates: e.g. a deleted account (Telegram sends no update for that)."""
    body = await _body(request, ChatFlagsBody)
    chat = _sandbox(request).state.chats.get(_int(request, "chat_id"))
    if chat is None:
        return fail(404, "chat not found")
    if body.blocked is not None:
        chat.blocked = body.blocked
    if body.deactivated is not None:
        chat.deactivated = body.deactivated
    return ok(chat.summary())


async def chat_messages(request: web.Request) -> web.StreamResponse:
    sandbox = _sandbox(request)
    chat_id = _int(request, "chat_id")
    if chat_id not in sandbox.state.chats:
        return fail(404, "chat not found")
    wait_for = int(_query_number(request, "wait_for", 0))
    if wait_for > 0:
        within = min(_query_number(request, "timeout", 5.0), _MAX_WAIT_SECONDS)
        await sandbox.wait_for_messages(chat_id, wait_for, within)
    include_learner = request.query.get("include_learner", "").lower() in {"1", "true", "yes"}
    return ok(sandbox.state.messages(chat_id, include_learner=include_learner))


async def all_messages(request: web.Request) -> web.StreamResponse:
    """The latest messages the bot sent, across chats, oldest first."""
    sandbox = _sandbox(request)
    limit = min(max(int(_query_number(request, "limit", 100)), 1), 10_000)
    messages = [
        message
        for chat in sandbox.state.chats.values()
        for message in chat.messages.values()
        if message.from_bot
    ]
    messages.sort(key=lambda message: message.time)
    return ok([message.to_record() for message in messages[-limit:]])


# -- updates --------------------------------------------------------------------------------------------


def _injected(action: Callable[[], JSON]) -> web.Response:
    try:
        return ok(action())
    except UnknownLearner as error:
        return fail(404, str(error))


async def inject_message(request: web.Request) -> web.StreamResponse:
    body, sandbox = await _body(request, MessageBody), _sandbox(request)
    return _injected(
        lambda: sandbox.learner_text(
            body.user_id, body.text, chat_id=body.chat_id, reply_to_message_id=body.reply_to_message_id
        )
    )


async def inject_callback(request: web.Request) -> web.StreamResponse:
    body, sandbox = await _body(request, CallbackBody), _sandbox(request)
    return _injected(
        lambda: sandbox.inject(
            sandbox.learners.callback(body.user_id, body.message_id, body.data, chat_id=body.chat_id)
        )
    )


def _inject_media(kind: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        body, sandbox = await _body(request, MediaBody), _sandbox(request)
        return _injected(
            lambda: sandbox.inject(
                sandbox.learners.media(body.user_id, kind, chat_id=body.chat_id, caption=body.caption)
            )
        )

    return handler


def _inject_member(blocked: bool) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        body, sandbox = await _body(request, UserIdBody), _sandbox(request)
        return _injected(
            lambda: sandbox.inject(sandbox.learners.member_status(body.user_id, blocked=blocked))
        )

    return handler


async def redeliver(request: web.Request) -> web.StreamResponse:
    body, sandbox = await _body(request, RedeliverBody), _sandbox(request)
    try:
        return ok(sandbox.redeliver(body.update_id))
    except KeyError:
        return fail(404, f"unknown update {body.update_id}")


async def pending_updates(request: web.Request) -> web.StreamResponse:
    sandbox = _sandbox(request)
    return ok({"next_update_id": sandbox.queue.next_update_id, "pending": list(sandbox.queue.pending())})


async def callbacks(request: web.Request) -> web.StreamResponse:
    return ok([record.to_record() for record in _sandbox(request).state.callbacks.values()])


# -- counters, limits, faults, simulation, reset ---------------------------------------------------------


async def counters(request: web.Request) -> web.StreamResponse:
    return ok(_sandbox(request).state.counters.to_dict())


async def get_limits(request: web.Request) -> web.StreamResponse:
    return ok(_sandbox(request).config.limits.model_dump())


async def set_limits(request: web.Request) -> web.StreamResponse:
    return await _configure(request, _sandbox(request).set_limits)


async def get_faults(request: web.Request) -> web.StreamResponse:
    return ok(_sandbox(request).config.faults.model_dump())


async def set_faults(request: web.Request) -> web.StreamResponse:
    return await _configure(request, _sandbox(request).set_faults)


async def _configure(
    request: web.Request, apply: Callable[[dict[str, Any]], BaseModel]
) -> web.StreamResponse:
    changes = await _raw_json(request)
    if not isinstance(changes, dict):
        return fail(400, "the body must be a JSON object")
    try:
        return ok(apply(changes).model_dump())
    except ValidationError as error:
        return invalid(error)


async def start_simulation(request: web.Request) -> web.StreamResponse:
    body, sandbox = await _body(request, SimulateBody), _sandbox(request)
    status = sandbox.simulator.start(
        body.learners, body.rate, body.seconds, base_id=body.base_id, seed=body.seed
    )
    return ok(status.to_dict())


async def simulation_status(request: web.Request) -> web.StreamResponse:
    return ok(_sandbox(request).simulator.status.to_dict())


async def stop_simulation(request: web.Request) -> web.StreamResponse:
    return ok(_sandbox(request).simulator.stop().to_dict())


async def reset(request: web.Request) -> web.StreamResponse:
    body = await _body(request, ResetBody)
    await _sandbox(request).reset(keep_users=body.keep_users)
    return ok(True)


def overview(sandbox: Sandbox) -> JSON:
    webhook = sandbox.state.webhook
    return {
        "bot": sandbox.state.bot_user(),
        "mode": "webhook" if webhook.url else "getUpdates",
        "webhook": webhook.to_api(len(sandbox.queue)),
        "pending_updates": len(sandbox.queue),
        "counters": sandbox.state.counters.to_dict(),
        "limits": sandbox.config.limits.model_dump(),
        "faults": sandbox.config.faults.model_dump(),
        "auto_create_chats": sandbox.config.auto_create_chats,
        "simulation": sandbox.simulator.status.to_dict(),
        "chats": [chat.summary() for chat in sandbox.state.chats.values()],
    }


# -- the HTML page -------------------------------------------------------------------------------------


async def index(request: web.Request) -> web.StreamResponse:
    sandbox = _sandbox(request)
    wants_json = request.query.get("format") == "json" or (
        "application/json" in request.headers.get("Accept", "")
        and "text/html" not in request.headers.get("Accept", "")
    )
    if wants_json:
        return ok(overview(sandbox))
    chat = request.query.get("chat", "")
    chat_id = int(chat) if chat.lstrip("-").isdigit() else None
    return web.Response(text=render_page(sandbox, chat_id), content_type="text/html")


async def ui_action(request: web.Request) -> web.StreamResponse:
    """The page's forms: write as a learner, press a button, block/unblock; then back to the chat."""
    sandbox = _sandbox(request)
    form = await request.post()
    action = str(form.get("action", ""))
    try:
        user_id = int(str(form.get("user_id", "0")))
        if action == "message" and str(form.get("text", "")).strip():
            sandbox.learner_text(user_id, str(form["text"]))
        elif action == "callback":
            message_id, data = int(str(form.get("message_id", "0"))), str(form.get("data", ""))
            sandbox.inject(sandbox.learners.callback(user_id, message_id, data))
        elif action in {"block", "unblock"}:
            sandbox.inject(sandbox.learners.member_status(user_id, blocked=action == "block"))
    except ValueError:
        return fail(400, "user_id and message_id must be integers")
    except UnknownLearner as error:
        return fail(404, str(error))
    raise web.HTTPSeeOther(f"{PREFIX}/?chat={user_id}")


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def render_page(sandbox: Sandbox, chat_id: int | None) -> str:
    data = overview(sandbox)
    counters = data["counters"]
    rows = "".join(
        f"<tr><td><a href='{PREFIX}/?chat={chat['id']}'>{_esc(chat['id'])}</a></td>"
        f"<td>{_esc(chat.get('first_name') or chat.get('title'))}</td>"
        f"<td>{_esc(chat.get('language_code') or '')}</td>"
        f"<td>{chat['received']}</td><td>{'blocked' if chat['blocked'] else ''}"
        f"{' deactivated' if chat['deactivated'] else ''}</td></tr>"
        for chat in data["chats"][-500:]
    )
    counter_cells = "".join(
        f"<tr><td>{_esc(key)}</td><td>{_esc(value)}</td></tr>"
        for key, value in counters.items()
        if not isinstance(value, dict)
    )
    conversation = _render_chat(sandbox, chat_id) if chat_id is not None else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Mluv Bot API sandbox</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.5rem;max-width:70rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}}
.bot{{background:#eef6ff}}.learner{{background:#f4f4f4}}
.msg{{padding:.4rem;margin:.3rem 0;white-space:pre-wrap}}
small{{color:#666}}</style></head><body>
<h1>Bot API sandbox</h1>
<p>Bot <b>@{_esc(data["bot"]["username"])}</b> (id {data["bot"]["id"]})
· updates via <b>{data["mode"]}</b> · pending updates {data["pending_updates"]}
· simulation {"running" if data["simulation"]["running"] else "idle"}
· <a href="{PREFIX}/?format=json">JSON</a> · <a href="{PREFIX}/counters">counters</a></p>
{conversation}
<h2>Chats ({len(data["chats"])})</h2>
<table><tr><th>id</th><th>name</th><th>lang</th><th>received</th><th>state</th></tr>{rows}</table>
<h2>Counters</h2><table>{counter_cells}</table>
</body></html>"""


def _render_chat(sandbox: Sandbox, chat_id: int) -> str:
    chat = sandbox.state.chats.get(chat_id)
    if chat is None:
        return f"<p>No chat {_esc(chat_id)}.</p>"
    items = []
    for message in list(chat.messages.values())[-100:]:
        who = "bot" if message.from_bot else "learner"
        body = message.text or message.caption or f"[{message.method}]"
        buttons = ""
        keyboard = (message.reply_markup or {}).get("inline_keyboard") if message.from_bot else None
        for row in keyboard or []:
            for button in row:
                if "callback_data" in button:
                    buttons += (
                        f"<form method='post' action='{PREFIX}/ui' style='display:inline'>"
                        f"<input type='hidden' name='action' value='callback'>"
                        f"<input type='hidden' name='user_id' value='{chat.id}'>"
                        f"<input type='hidden' name='message_id' value='{message.message_id}'>"
                        f"<input type='hidden' name='data' value='{_esc(button['callback_data'])}'>"
                        f"<button>{_esc(button.get('text', ''))}</button></form> "
                    )
        edited = f" · edited {len(message.edits)}×" if message.edits else ""
        items.append(
            f"<div class='msg {who}'><small>#{message.message_id} {who} · {message.method}{edited}</small>"
            f"<br>{_esc(body)}{'<br>' + buttons if buttons else ''}</div>"
        )
    form = ""
    if chat.user is not None:
        toggle = "unblock" if chat.blocked else "block"
        form = (
            f"<form method='post' action='{PREFIX}/ui'><input type='hidden' name='action' value='message'>"
            f"<input type='hidden' name='user_id' value='{chat.id}'>"
            f"<input name='text' size='60' autofocus placeholder='Napište něco česky…'> "
            f"<button>Send</button></form>"
            f"<form method='post' action='{PREFIX}/ui'><input type='hidden' name='action' value='{toggle}'>"
            f"<input type='hidden' name='user_id' value='{chat.id}'><button>{toggle} the bot</button></form>"
        )
    title = chat.user.first_name if chat.user else chat.title
    return (
        f"<h2>Chat {chat.id}: {_esc(title)} "
        f"<small><a href='{PREFIX}/?chat={chat.id}'>refresh</a></small></h2>"
        f"{''.join(items) or '<p>No messages yet.</p>'}{form}"
    )


def add_control_routes(app: web.Application) -> None:
    routes = app.router
    routes.add_get(f"{PREFIX}", index)
    routes.add_get(f"{PREFIX}/", index)
    routes.add_post(f"{PREFIX}/ui", ui_action)
    routes.add_post(f"{PREFIX}/users", create_users)
    routes.add_post(f"{PREFIX}/groups", create_group)
    routes.add_get(f"{PREFIX}/chats", list_chats)
    routes.add_get(f"{PREFIX}/chats/{{chat_id}}", get_chat)
    routes.add_post(f"{PREFIX}/chats/{{chat_id}}", set_chat_flags)
    routes.add_get(f"{PREFIX}/chats/{{chat_id}}/messages", chat_messages)
    routes.add_get(f"{PREFIX}/messages", all_messages)
    routes.add_post(f"{PREFIX}/updates/message", inject_message)
    routes.add_post(f"{PREFIX}/updates/callback", inject_callback)
    for kind in ("sticker", "photo", "voice"):
        routes.add_post(f"{PREFIX}/updates/{kind}", _inject_media(kind))
    routes.add_post(f"{PREFIX}/updates/block", _inject_member(blocked=True))
    routes.add_post(f"{PREFIX}/updates/unblock", _inject_member(blocked=False))
    routes.add_post(f"{PREFIX}/updates/redeliver", redeliver)
    routes.add_get(f"{PREFIX}/updates", pending_updates)
    routes.add_get(f"{PREFIX}/callbacks", callbacks)
    routes.add_get(f"{PREFIX}/counters", counters)
    routes.add_get(f"{PREFIX}/limits", get_limits)
    routes.add_post(f"{PREFIX}/limits", set_limits)
    routes.add_get(f"{PREFIX}/faults", get_faults)
    routes.add_post(f"{PREFIX}/faults", set_faults)
    routes.add_get(f"{PREFIX}/simulate", simulation_status)
    routes.add_post(f"{PREFIX}/simulate", start_simulation)
    routes.add_post(f"{PREFIX}/simulate/stop", stop_simulation)
    routes.add_post(f"{PREFIX}/reset", reset)
