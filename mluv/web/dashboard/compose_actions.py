"""The compose page's handlers: the page, its form (Preview, Send now, Send now paid, Schedule), Cancel of a
waiting post, and adding or removing a channel. Cancelling a running broadcast is the dashboard's
cancel-broadcast.

Sending needs a preview of exactly what is sent (the form's digest), as the bot's /broadcast needs its
Confirm button: the operator has seen the text as learners will and the audience's size. "Send now" creates
a confirmed broadcast once per form (its nonce is the idempotency key: a double click starts one) and
enqueues its job; "Schedule" stores a scheduled post that send_scheduled_messages sends at its time.
Every action is logged with who (the name the operator signs with, the session), what and the outcome.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from aiohttp import web

from mluv.domain.post_format import PostError
from mluv.logs import get_logger
from mluv.telegram import audiences, posts
from mluv.web.auth import Access, client_ip
from mluv.web.dashboard.guards import form_field, redirect
from mluv.web.dashboard.loader import Loader, View
from mluv.web.dashboard.pages.compose import (
    MAX_NAME,
    OPERATOR_COOKIE,
    Checked,
    ComposeForm,
    check_form,
    error_text,
    page_sections,
)
from mluv.web.dashboard.sections import NAV, render_fragment
from mluv.web.dashboard.state import Operator, dashboard_state
from mluv.web.dashboard.templating import render, render_page
from workers.broadcasts import broadcast as broadcast_job

log = get_logger(__name__)

COMPOSE_PATH = "/dashboard/compose"
NAME_COOKIE_DAYS = 180


def _who(request: web.Request, operator: Operator, name: str | None = None) -> dict[str, str]:
    """Who acts, for the audit log: the name signed (or remembered), the session (a digest), the client."""
    signed = name or request.cookies.get(OPERATOR_COOKIE, "")[:MAX_NAME] or "(unsigned)"
    session = operator.session.session_id if operator.session else "open-mode"
    digest = hashlib.sha256(session.encode()).hexdigest()[:12]
    return {"operator": signed, "session": digest, "client": client_ip(request)}


def _done(
    request: web.Request, operator: Operator, action: str, ok: bool, message: str, **details: object
) -> web.StreamResponse:
    """Log the action (who, what, outcome) and go back to the page with a notice (or JSON if asked)."""
    log.info("dashboard action", action=action, ok=ok, result=message, **details, **_who(request, operator))
    if "application/json" in request.headers.get("Accept", ""):
        return web.json_response({"ok": ok, "message": message}, status=200 if ok else 400)
    return redirect(f"{COMPOSE_PATH}?{urlencode({'notice': message})}", 303)


async def render_compose(
    request: web.Request,
    operator: Operator,
    form: ComposeForm,
    checked: Checked | None = None,
    *,
    notice: str | None = None,
    status: int = 200,
) -> web.Response:
    state = dashboard_state(request)
    own = await page_sections(request, operator, form, checked)
    broadcasts = await render_fragment(
        request, "broadcasts", Loader(state.resources), View(operator.csrf, {}, request.path)
    )
    sections = [(name, render(request, template, context)) for name, template, context in own]
    sections.insert(2, ("broadcasts", broadcasts))  # the dashboard's own live section, Cancel included
    context = {
        "page": "compose",
        "title": "Compose",
        "nav": NAV,
        "sections": sections,
        "csrf": operator.csrf,
        "open_mode": state.access is Access.OPEN,
        "notice": notice if notice is not None else request.query.get("notice"),
        "static_version": state.static_version,
        "logout": operator.session is not None,
    }
    return render_page(request, "page.html", context, status=status)


async def compose_page(request: web.Request, operator: Operator) -> web.StreamResponse:
    form = ComposeForm(operator_name=(request.cookies.get(OPERATOR_COOKIE) or "")[:MAX_NAME])
    return await render_compose(request, operator, form)


def _remember_name(response: web.StreamResponse, name: str) -> web.StreamResponse:
    response.set_cookie(
        OPERATOR_COOKIE,
        name,
        max_age=NAME_COOKIE_DAYS * 86400,
        path="/dashboard",
        httponly=True,
        samesite="Strict",
    )
    return response


async def compose_submit(request: web.Request, operator: Operator) -> web.StreamResponse:
    """Preview, Send now or Schedule: anything wrong re-renders the form with the problems by its fields."""
    posted = await request.post()
    form = ComposeForm.read(posted)
    intent = form_field(posted, "do") or "preview"
    resources = dashboard_state(request).resources
    paid_on = resources.settings.paid_broadcast_rate_per_second > 0
    if intent not in ("preview", "send", "schedule") and not (intent == "send-paid" and paid_on):
        intent = "preview"
    checked = await check_form(request, form, need_time=intent == "schedule")
    if intent != "preview" and not form.operator_name:
        checked.errors["operator_name"] = "Sign the post with your name: it is recorded with it."
    if checked.errors:
        return await render_compose(request, operator, form, checked, status=422)
    if intent == "preview":
        return await render_compose(request, operator, form, checked)
    if form.previewed != form.digest():
        notice = "The post changed since its preview: check the preview below, then send it."
        return await render_compose(request, operator, form, checked, notice=notice, status=409)
    assert checked.options is not None
    started_by = posts.StartedBy(operator=form.operator_name)
    details = {"audience": checked.audience_label, "size": checked.size, "format": form.post_format}
    if intent in ("send", "send-paid"):
        paid = intent == "send-paid"
        broadcast_id = await posts.create_confirmed(
            resources.session_factory,
            started_by=started_by,
            text=form.text,
            parse_mode=form.format.parse_mode,
            idempotency_key=f"web:{form.nonce}",
            audience=checked.options.audience,
            paid=paid,
        )
        # The job's id is derived from the broadcast: a repeated submit cannot start it twice.
        await broadcast_job.enqueue(resources.pool, broadcast_id=broadcast_id)
        message = f"broadcast #{broadcast_id} started: {checked.audience_label}, {checked.size} recipient(s)"
        if paid:
            stars = posts.stars_text(posts.paid_broadcast_stars(checked.size or 0), decimal_comma=False)
            message = f"paid {message}, at most {stars} Telegram Stars"
        action = "broadcast.send-paid" if paid else "broadcast.send"
        response = _done(request, operator, action, True, message, broadcast_id=broadcast_id, **details)
        return _remember_name(response, form.operator_name)
    assert checked.send_at is not None
    try:
        async with resources.session_factory.begin() as session:
            post_id = await posts.schedule_post(
                session,
                started_by=started_by,
                text=form.text,
                send_at=checked.send_at,
                options=checked.options,
            )
    except PostError as error:  # a channel removed since the preview
        checked.errors["audience"] = error_text(form.messages, error)
        return await render_compose(request, operator, form, checked, status=422)
    when = checked.send_at.strftime("%Y-%m-%d %H:%M UTC")
    message = f"post #{post_id} scheduled for {when}: {checked.audience_label}"
    response = _done(
        request, operator, "post.schedule", True, message, post_id=post_id, send_at=when, **details
    )
    return _remember_name(response, form.operator_name)


def _int_field(posted: object, name: str) -> int | None:
    value = (form_field(posted, name) or "").strip()
    digits = value.removeprefix("-")
    return int(value) if digits.isdigit() and len(digits) <= 18 else None


async def cancel_post_action(request: web.Request, operator: Operator) -> web.StreamResponse:
    post_id = _int_field(await request.post(), "post_id")
    if post_id is None or post_id <= 0:
        return _done(request, operator, "post.cancel", False, "no post id")
    async with dashboard_state(request).resources.session_factory.begin() as session:
        cancelled = await posts.cancel_post(session, post_id)
    if cancelled:
        return _done(request, operator, "post.cancel", True, f"post #{post_id} cancelled", post_id=post_id)
    message = f"post #{post_id} is not waiting any more (sent, being sent or cancelled)"
    return _done(request, operator, "post.cancel", False, message, post_id=post_id)


async def add_channel_action(request: web.Request, operator: Operator) -> web.StreamResponse:
    posted = await request.post()
    chat_id = _int_field(posted, "chat_id")
    title = (form_field(posted, "title") or "").strip()
    name = (form_field(posted, "operator_name") or "").strip()[:MAX_NAME]
    if chat_id is None:
        return _done(
            request, operator, "channel.add", False, "a channel's chat id is a number, like -1001234567890"
        )
    who = name or request.cookies.get(OPERATOR_COOKIE, "")[:MAX_NAME] or "dashboard"
    try:
        async with dashboard_state(request).resources.session_factory.begin() as session:
            channel = await audiences.add_channel(session, chat_id=chat_id, title=title, added_by=who)
    except PostError:
        return _done(request, operator, "channel.add", False, "a channel needs a title", chat_id=chat_id)
    message = f"channel «{channel.title}» ({channel.chat_id}) kept"
    response = _done(request, operator, "channel.add", True, message, chat_id=chat_id, name=who)
    return _remember_name(response, name) if name else response


async def remove_channel_action(request: web.Request, operator: Operator) -> web.StreamResponse:
    chat_id = _int_field(await request.post(), "chat_id")
    if chat_id is None:
        return _done(request, operator, "channel.remove", False, "no chat id")
    async with dashboard_state(request).resources.session_factory.begin() as session:
        removed = await audiences.remove_channel(session, chat_id)
    if removed:
        return _done(request, operator, "channel.remove", True, f"channel {chat_id} removed", chat_id=chat_id)
    return _done(
        request, operator, "channel.remove", False, f"channel {chat_id} is not kept", chat_id=chat_id
    )
