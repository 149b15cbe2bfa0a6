"""Every route of the control API under /_sandbox/, on the sandbox's aiohttp application."""

from __future__ import annotations

from aiohttp import web

from mluv.telegram.sandbox.control import behaviour, chats, page, updates
from mluv.telegram.sandbox.control.protocol import PREFIX


def add_control_routes(app: web.Application) -> None:
    routes = app.router
    routes.add_get(f"{PREFIX}", page.index)
    routes.add_get(f"{PREFIX}/", page.index)
    routes.add_post(f"{PREFIX}/ui", page.ui_action)
    routes.add_post(f"{PREFIX}/users", chats.create_users)
    routes.add_post(f"{PREFIX}/groups", chats.create_group)
    routes.add_get(f"{PREFIX}/chats", chats.list_chats)
    routes.add_get(f"{PREFIX}/chats/{{chat_id}}", chats.get_chat)
    routes.add_post(f"{PREFIX}/chats/{{chat_id}}", chats.set_chat_flags)
    routes.add_get(f"{PREFIX}/chats/{{chat_id}}/messages", chats.chat_messages)
    routes.add_get(f"{PREFIX}/messages", chats.all_messages)
    routes.add_post(f"{PREFIX}/updates/message", updates.inject_message)
    routes.add_post(f"{PREFIX}/updates/callback", updates.inject_callback)
    for kind in ("sticker", "photo", "voice"):
        routes.add_post(f"{PREFIX}/updates/{kind}", updates.inject_media(kind))
    routes.add_post(f"{PREFIX}/updates/block", updates.inject_member(blocked=True))
    routes.add_post(f"{PREFIX}/updates/unblock", updates.inject_member(blocked=False))
    routes.add_post(f"{PREFIX}/updates/redeliver", updates.redeliver)
    routes.add_get(f"{PREFIX}/updates", updates.pending_updates)
    routes.add_get(f"{PREFIX}/callbacks", updates.callbacks)
    routes.add_get(f"{PREFIX}/counters", behaviour.counters)
    routes.add_get(f"{PREFIX}/limits", behaviour.get_limits)
    routes.add_post(f"{PREFIX}/limits", behaviour.set_limits)
    routes.add_get(f"{PREFIX}/faults", behaviour.get_faults)
    routes.add_post(f"{PREFIX}/faults", behaviour.set_faults)
    routes.add_get(f"{PREFIX}/simulate", behaviour.simulation_status)
    routes.add_post(f"{PREFIX}/simulate", behaviour.start_simulation)
    routes.add_post(f"{PREFIX}/simulate/stop", behaviour.stop_simulation)
    routes.add_post(f"{PREFIX}/reset", behaviour.reset)
