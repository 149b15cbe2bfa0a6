"""The sandbox at a glance: the overview (JSON at /_sandbox/?format=json) and a small HTML page to look
around and chat as a learner, whose forms post to /_sandbox/ui (write, press a button, block/unblock)."""

from __future__ import annotations

import html

from aiohttp import web

from mluv.telegram.sandbox.control.protocol import PREFIX, fail, ok, sandbox_of
from mluv.telegram.sandbox.core import Sandbox
from mluv.telegram.sandbox.state import JSON
from mluv.telegram.sandbox.updates import UnknownLearner


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


async def index(request: web.Request) -> web.StreamResponse:
    sandbox = sandbox_of(request)
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
    sandbox = sandbox_of(request)
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
