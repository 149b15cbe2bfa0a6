"""The compose page: write a broadcast or a scheduled post, preview it as learners will see it, see its
audience's size, send it now or schedule it; the posts waiting for their time, the recent broadcasts and the
channels the bot posts to.

The rules are the shared ones the bot's /broadcast and /schedule use: the post is checked by
mluv.domain.post_format.check_post, the audience by mluv.domain.audience and sized by the very query that
snapshots it (mluv.telegram.audiences), the time read by mluv.domain.schedule. This module only reads the
form and renders: a problem is shown next to its field in the bot's words (bot.ftl, ru or uk, the
operator's choice); the rest of the page is English like the rest of the dashboard.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web
from markupsafe import Markup

from mluv.domain.audience import Audience, PostOptions
from mluv.domain.post_format import PostError, PostFormat, check_post, looks_like_html, visible_text
from mluv.domain.schedule import parse_send_time
from mluv.i18n import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES, t
from mluv.telegram import audiences, posts
from mluv.web.dashboard.guards import form_field
from mluv.web.dashboard.state import Operator, dashboard_state

LEARNERS = "learners"  # the audience field's value for learners; a channel is "channel:<chat id>"
OPERATOR_COOKIE = "mluv_operator"  # the name an operator last signed a post with (prefills the form)
MAX_NAME = 64
LIST_PREVIEW = 120  # characters of each waiting post's text in the list
LINK_SCHEMES = ("http://", "https://", "tg://", "mailto:")  # links the preview keeps clickable

# Which field of the form a PostError is about (the others: the text).
_FIELD_OF = {
    "post-option-lang": "language",
    "post-option-active": "active_days",
    "post-option-channel": "audience",
    "post-option-channel-alone": "audience",
    "channel-error-title": "title",
}


@dataclass
class ComposeForm:
    """The compose form as posted (strings as typed, so a re-rendered form keeps them)."""

    text: str = ""
    post_format: str = PostFormat.PLAIN.value
    audience: str = LEARNERS
    language: str = ""
    active_days: str = ""
    send_at: str = ""
    operator_name: str = ""
    messages: str = DEFAULT_LANGUAGE  # the language of the rules' messages (bot.ftl)
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    previewed: str = ""

    @classmethod
    def read(cls, form: Any) -> ComposeForm:
        def value(name: str, default: str = "") -> str:
            return (form_field(form, name) or default).strip()

        messages = value("messages", DEFAULT_LANGUAGE)
        return cls(
            # The text as typed: leading spaces and blank lines are the operator's.
            text=(form_field(form, "text") or "").replace("\r\n", "\n"),
            post_format=PostFormat.HTML.value if value("format") == "html" else PostFormat.PLAIN.value,
            audience=value("audience", LEARNERS),
            language=value("language"),
            active_days=value("active_days"),
            send_at=value("send_at"),
            operator_name=value("operator_name")[:MAX_NAME],
            messages=messages if messages in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE,
            nonce=value("nonce") or secrets.token_urlsafe(16),
            previewed=value("previewed"),
        )

    @property
    def format(self) -> PostFormat:
        return PostFormat(self.post_format)

    def digest(self) -> str:
        """What the preview showed (text, format, audience): sending needs a preview of exactly this."""
        parts = (self.text, self.post_format, self.audience, self.language, self.active_days)
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:24]


def read_audience(form: ComposeForm) -> Audience:
    """The audience the form names, or PostError (the shared rules decide which combinations exist)."""
    days: int | None = None
    if form.active_days:
        if not form.active_days.isdigit() or len(form.active_days) > 4:
            raise PostError("post-option-active", {"value": form.active_days, "limit": 365})
        days = int(form.active_days)
    language = form.language or None
    if form.audience == LEARNERS:
        return Audience(language=language, active_days=days)
    chat_id = form.audience.removeprefix("channel:")
    if not form.audience.startswith("channel:") or not chat_id.lstrip("-").isdigit():
        raise PostError("post-option-channel", {"value": form.audience})
    return Audience(language=language, active_days=days, channel_id=int(chat_id))


def error_text(lang: str, error: PostError) -> str:
    return t(lang, error.key, **error.params)


def field_of(error: PostError) -> str:
    if error.key.startswith("schedule-error-"):
        return "send_at"
    return _FIELD_OF.get(error.key, "text")


# --- the preview ---------------------------------------------------------------------------------------

# Telegram's tags and what the preview shows for them (a tag of ours, never the operator's markup).
_PREVIEW_TAGS = {
    "b": "b",
    "strong": "b",
    "i": "i",
    "em": "i",
    "u": "u",
    "ins": "u",
    "s": "s",
    "strike": "s",
    "del": "s",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class _Preview(HTMLParser):
    """Rebuilds checked Telegram HTML from our own tags: every text and attribute value is escaped, and a
    link keeps its address only for the schemes in LINK_SCHEMES (no javascript: on the page)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.closing: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("tg-spoiler", "span"):
            opened, closed = '<span class="tg-spoiler">', "</span>"
        elif tag == "a":
            href = (attributes.get("href") or "").strip()
            if href.lower().startswith(LINK_SCHEMES):
                opened = f'<a href="{html.escape(href)}" rel="noopener noreferrer nofollow" target="_blank">'
            else:
                opened = f'<a class="no-href" title="{html.escape(href)}">'
            closed = "</a>"
        elif tag in _PREVIEW_TAGS:
            name = _PREVIEW_TAGS[tag]
            opened, closed = f"<{name}>", f"</{name}>"
        else:  # cannot happen after check_post; shown as text if it ever did
            opened, closed = html.escape(self.get_starttag_text() or ""), ""
        self.out.append(opened)
        self.closing.append(closed)

    def handle_endtag(self, tag: str) -> None:
        if self.closing:
            self.out.append(self.closing.pop())

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data))

    def handle_entityref(self, name: str) -> None:
        self.out.append(html.escape(_NAMED.get(name, f"&{name};")))

    def handle_charref(self, name: str) -> None:
        self.out.append(html.escape(html.unescape(f"&#{name};")))


def preview_markup(text: str, post_format: PostFormat) -> Markup:
    """What learners will see, as page HTML: a plain post escaped; an HTML post (checked already by
    check_post) rebuilt from Telegram's tags only. Line breaks are kept by the stylesheet."""
    if post_format is PostFormat.PLAIN:
        return Markup(html.escape(text))  # noqa: S704 - escaped just now
    parser = _Preview()
    parser.feed(text)
    parser.close()
    parser.out.extend(reversed(parser.closing))
    return Markup("".join(parser.out))  # noqa: S704 - only our tags, every text escaped


# --- checking a form -------------------------------------------------------------------------------------


@dataclass
class Checked:
    """A form checked against the shared rules: problems by field, or what would be sent and to whom."""

    errors: dict[str, str] = field(default_factory=dict)
    options: PostOptions | None = None
    preview: Markup | None = None
    size: int | None = None
    audience_label: str = ""
    send_at: dt.datetime | None = None
    html_hint: bool = False


async def check_form(request: web.Request, form: ComposeForm, *, need_time: bool) -> Checked:
    checked = Checked()
    lang = form.messages
    try:
        check_post(form.text, form.format)
        checked.preview = preview_markup(form.text, form.format)
    except PostError as error:
        checked.errors["text"] = error_text(lang, error)
    checked.html_hint = form.format is PostFormat.PLAIN and looks_like_html(form.text)
    session_factory = dashboard_state(request).resources.session_factory
    try:
        audience = read_audience(form)
        async with session_factory() as session:
            await audiences.check_audience(session, audience)
            checked.size = await audiences.size(session, audience)
            checked.audience_label = await audience_label(session, audience)
        checked.options = PostOptions(audience, form.format)
    except PostError as error:
        checked.errors[field_of(error)] = error_text(lang, error)
    if need_time or form.send_at:
        try:
            if not form.send_at:
                raise PostError("schedule-error-missing")
            checked.send_at = parse_send_time(form.send_at, dt.datetime.now(dt.UTC))
        except PostError as error:
            checked.errors["send_at"] = error_text(lang, error)
    return checked


async def audience_label(session: Any, audience: Audience) -> str:
    """The audience in the page's words (English, like the rest of the dashboard)."""
    if audience.channel_id is not None:
        channel = await audiences.get_channel(session, audience.channel_id)
        return f"channel «{channel.title if channel else audience.channel_id}»"
    words = ["all learners" if audience.language is None else f"learners using {audience.language}"]
    if audience.active_days is not None:
        day = "day" if audience.active_days == 1 else f"{audience.active_days} days"
        words.append(f"active in the last {day}")
    return ", ".join(words)


def started_by_label(started_by: posts.StartedBy) -> str:
    return started_by.operator or f"admin {started_by.admin_id} (bot)"


# --- the page ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingItem:
    post: posts.PendingPost
    audience: str
    preview: str
    started_by: str


async def _lists(request: web.Request) -> tuple[list[PendingItem], list[audiences.ChannelInfo]]:
    async with dashboard_state(request).resources.session_factory() as session:
        pending = await posts.pending_posts(session)
        channels = await audiences.list_channels(session)
        items = []
        for post in pending:
            try:
                visible = visible_text(post.text, post.post_format)
            except PostError:  # stored before posts were checked: shown as written
                visible = post.text
            items.append(
                PendingItem(
                    post,
                    await audience_label(session, post.audience),
                    " ".join(visible.split())[:LIST_PREVIEW],
                    started_by_label(post.started_by),
                )
            )
    return items, channels


async def page_sections(
    request: web.Request, operator: Operator, form: ComposeForm, checked: Checked | None
) -> list[tuple[str, str, dict[str, Any]]]:
    """The page's own sections as (name, template, context); the broadcasts' section is the dashboard's."""
    pending, channels = await _lists(request)
    if checked is not None and not checked.errors:
        form.previewed = form.digest()
    paid_rate = dashboard_state(request).resources.settings.paid_broadcast_rate_per_second
    paid_stars = None
    if paid_rate > 0 and checked is not None and checked.size is not None:
        paid_stars = posts.stars_text(posts.paid_broadcast_stars(checked.size), decimal_comma=False)
    form_context = {
        "paid_rate": f"{paid_rate:g}" if paid_rate > 0 else None,
        "paid_stars": paid_stars,
        "form": form,
        "checked": checked,
        "channels": channels,
        "languages": SUPPORTED_LANGUAGES,
        "learners": LEARNERS,
        "csrf": operator.csrf,
        "min_time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M"),
    }
    return [
        ("compose", "compose.html", form_context),
        ("scheduled-posts", "compose_posts.html", {"items": pending, "csrf": operator.csrf}),
        ("channels", "compose_channels.html", {"channels": channels, "csrf": operator.csrf}),
    ]
