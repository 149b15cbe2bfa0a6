"""Operators' /broadcast (with a confirm button) and /schedule with its list and cancel (ADMIN_IDS only; see
admin_only.py).

    /broadcast [--lang ru|uk] [--active N] [--channel ID] [--html] <text>
    /schedule [the same options] <when> <text>      when: +30m, +2h, +1d, 18:00, 2026-12-24 09:00 (UTC)
    /schedule list  ·  /schedule cancel <id>

The options, the audience and the checks (Telegram HTML validated, the length after parsing) are the
shared rules of mluv.domain.audience, mluv.domain.post_format and mluv.telegram.posts, which the web
compose page uses too. With paid broadcasts on (PAID_BROADCAST_RATE_PER_SECOND > 0) it also offers a paid
broadcast and its most cost in Stars (posts.paid_broadcast_stars). The confirmation shows the audience and
its size and a preview: an HTML post's
preview is sent with parse_mode=HTML, so Telegram itself renders it. It always fits one message (a long
text's preview is shortened, and says so); a draft older than posts.DRAFT_LIFETIME is not sent when its
Confirm button is pressed.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.bot.filters import IsAdmin
from mluv.bot.keyboards import BroadcastAction, broadcast_keyboard
from mluv.db.models import User
from mluv.domain.audience import split_options
from mluv.domain.post_format import PostError, PostFormat, looks_like_html, parse_html
from mluv.domain.schedule import TIME_FORMAT, example_time, split_schedule_arguments
from mluv.domain.telegram_text import TELEGRAM_TEXT_LIMIT, shorten, utf16_length, visible_length
from mluv.i18n import t
from mluv.settings import Settings
from mluv.telegram import audiences, posts
from workers.broadcasts import broadcast as broadcast_job

router = Router(name="broadcasts")

LISTED_POSTS = 20  # /schedule list shows the soonest this many
LIST_PREVIEW = 60  # characters of each listed post's text
_PREVIEW = "\ue000preview\ue001"  # where the preview goes in an HTML confirmation's escaped frame


def problem_text(lang: str, key: str, error: PostError, usage: str) -> str:
    """What is wrong, in the operator's language; the usage too when the command itself was misread."""
    text = t(lang, key, text=t(lang, error.key, **error.params))
    misread = error.key.startswith(("post-option-", "schedule-error-"))
    return f"{text}\n\n{usage}" if misread else text


@dataclass(frozen=True)
class PaidOffer:
    """A paid broadcast as the confirmation offers it: its rate and its most cost in Stars."""

    rate: float
    stars: str


def paid_offer(settings: Settings, recipients: int) -> PaidOffer | None:
    rate = settings.paid_broadcast_rate_per_second
    if rate <= 0:
        return None
    return PaidOffer(rate, posts.stars_text(posts.paid_broadcast_stars(recipients)))


@router.message(Command("broadcast"), IsAdmin())
async def broadcast(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    user: User,
    lang: str,
    settings: Settings,
) -> None:
    usage = t(lang, "broadcast-usage")
    try:
        options, text = split_options(command.args or "")
        if not text:
            await message.answer(usage)
            return
        draft = await posts.create_draft(
            session, started_by=posts.StartedBy(user.id), text=text, options=options
        )
        audience = await audiences.describe(session, lang, options.audience)
    except PostError as error:
        await message.answer(problem_text(lang, "broadcast-invalid", error, usage))
        return
    # Stored before the reply, whose button names it (the middleware commits only after the handler).
    await session.commit()
    offer = paid_offer(settings, draft.size)
    await message.answer(
        confirm_text(lang, text, draft.size, post_format=options.post_format, audience=audience, paid=offer),
        parse_mode=options.post_format.parse_mode,
        reply_markup=broadcast_keyboard(lang, draft.id, offer.stars if offer else None),
    )
    if options.post_format is PostFormat.PLAIN and looks_like_html(text):
        await message.answer(t(lang, "broadcast-html-hint"))


def confirm_text(
    lang: str,
    text: str,
    count: int,
    *,
    post_format: PostFormat = PostFormat.PLAIN,
    audience: str = "",
    paid: PaidOffer | None = None,
) -> str:
    """The confirmation with its preview, shortened (saying so) when the whole would not fit one message,
    and the paid broadcast's offer and cost when there is one. For an HTML post it is HTML itself: the
    frame escaped, the post as written."""
    audience = audience or t(lang, "audience-everyone")
    frame = {"count": count, "audience": audience, "format": t(lang, f"post-format-{post_format.value}")}
    markup = post_format is PostFormat.HTML
    offer = ""
    if paid is not None:
        rate = f"{paid.rate:g}"
        offer = "\n\n" + t(lang, "broadcast-paid-offer", rate=rate, stars=paid.stars, count=str(count))

    def whole(preview: str) -> str:
        if not markup:
            return t(lang, "broadcast-confirm", preview=preview, **frame) + offer
        escaped = html.escape(t(lang, "broadcast-confirm", preview=_PREVIEW, **frame) + offer, quote=False)
        return escaped.replace(_PREVIEW, preview)

    full = whole(text)
    if visible_length(full, post_format.parse_mode) <= TELEGRAM_TEXT_LIMIT:
        return full
    # Markup cannot be cut safely: a long HTML post is previewed as its visible text, shortened.
    visible = parse_html(text) if markup else text
    note = t(lang, "broadcast-preview-shortened", count=utf16_length(visible))
    budget = TELEGRAM_TEXT_LIMIT - visible_length(whole(f"\n\n{note}"), post_format.parse_mode)
    preview = shorten(visible, budget)
    if markup:
        preview, note = html.escape(preview, quote=False), html.escape(note, quote=False)
    return whole(f"{preview}\n\n{note}")


@router.callback_query(BroadcastAction.filter(), IsAdmin())
async def broadcast_decision(
    query: CallbackQuery, callback_data: BroadcastAction, session: AsyncSession, pool: ArqRedis, lang: str
) -> None:
    confirm, paid = callback_data.action in ("confirm", "paid"), callback_data.action == "paid"
    progress = query.message if isinstance(query.message, Message) else None
    try:
        decided = await posts.decide_draft(
            session,
            callback_data.broadcast_id,
            confirm=confirm,
            progress_chat_id=progress.chat.id if progress else None,
            progress_message_id=progress.message_id if progress else None,
            paid=paid,
        )
    except posts.DraftExpired:
        await session.commit()
        expired = t(lang, "broadcast-expired", count=int(posts.DRAFT_LIFETIME.total_seconds() // 60))
        await query.answer(expired, show_alert=True)
        if progress is not None:
            await progress.edit_text(expired)
        return
    await query.answer()
    if decided is None:
        return
    await session.commit()
    if confirm:
        await broadcast_job.enqueue(pool, broadcast_id=decided.id)
    if progress is not None:
        text = (
            t(lang, "broadcast-confirmed", count=decided.size) if confirm else t(lang, "broadcast-cancelled")
        )
        if paid:
            stars = posts.stars_text(posts.paid_broadcast_stars(decided.size))
            text = t(lang, "broadcast-confirmed-paid", count=str(decided.size), stars=stars)
        await progress.edit_text(text)


@router.message(Command("schedule"), IsAdmin())
async def schedule(
    message: Message, command: CommandObject, session: AsyncSession, user: User, lang: str
) -> None:
    arguments = (command.args or "").strip()
    now = dt.datetime.now(dt.UTC)
    usage = t(lang, "schedule-usage", example=example_time(now))
    first, rest = [*arguments.split(maxsplit=1), "", ""][:2]
    if first.lower() == "list":
        await message.answer(await list_text(session, lang))
        return
    if first.lower() == "cancel":
        text = await cancel_text(session, lang, rest)
        await session.commit()  # the reply says it is cancelled: it is, before the reply goes out
        await message.answer(text)
        return
    if not arguments:
        await message.answer(usage)
        return
    try:
        options, rest = split_options(arguments)
        send_at, text = split_schedule_arguments(rest, now)
        post_id = await posts.schedule_post(
            session, started_by=posts.StartedBy(user.id), text=text, send_at=send_at, options=options
        )
        audience = await audiences.describe(session, lang, options.audience)
    except PostError as error:
        await message.answer(problem_text(lang, "schedule-invalid", error, usage))
        return
    await session.commit()  # the reply says it is scheduled: it is, before the reply goes out
    when = send_at.strftime(TIME_FORMAT)
    await message.answer(t(lang, "schedule-done", time=when, id=str(post_id), audience=audience))


async def list_text(session: AsyncSession, lang: str) -> str:
    """The posts still waiting, soonest first, with their numbers, times (UTC), audiences and texts."""
    pending = await posts.pending_posts(session, limit=LISTED_POSTS)
    if not pending:
        return t(lang, "schedule-list-empty")
    total = await posts.count_pending_posts(session)
    lines = [t(lang, "schedule-list-header", count=total)]
    for post in pending:
        visible = _visible(post.text, post.post_format)
        lines.append(
            t(
                lang,
                "schedule-list-item",
                id=str(post.id),
                time=post.send_at.astimezone(dt.UTC).strftime(TIME_FORMAT),
                audience=await audiences.describe(session, lang, post.audience),
                format=t(lang, f"post-format-{post.post_format.value}"),
                preview=shorten(" ".join(visible.split()), LIST_PREVIEW),
            )
        )
    if total > len(pending):
        lines.append(t(lang, "schedule-list-more", count=total - len(pending)))
    lines.append(t(lang, "schedule-list-footer"))
    return "\n".join(lines)


def _visible(text: str, post_format: PostFormat) -> str:
    try:
        return parse_html(text) if post_format is PostFormat.HTML else text
    except PostError:  # stored before posts were checked: show it as written
        return text


async def cancel_text(session: AsyncSession, lang: str, argument: str) -> str:
    number = argument.strip().lstrip("#№")
    if not number.isdigit() or len(number) > 18:  # a post's id is a bigint
        return t(lang, "schedule-cancel-usage")
    if await posts.cancel_post(session, int(number)):
        return t(lang, "schedule-cancelled", id=number)
    return t(lang, "schedule-cancel-missing", id=number)
