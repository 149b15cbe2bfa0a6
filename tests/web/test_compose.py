"""The compose page over HTTP against real PostgreSQL and Redis: the preview of Telegram HTML, problems by
field in the bot's words, the audience's size, Send now, Schedule, Cancel, the channels, and refusals."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select, update

from mluv.db.models import Broadcast, ScheduledMessage, User
from mluv.domain.audience import Audience, PostOptions
from mluv.domain.post_format import PostFormat
from mluv.domain.schedule import example_time
from mluv.i18n import t
from mluv.jobs import Queue
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.telegram import audiences, posts
from mluv.telegram.ratelimit import RateLimiter
from mluv.telegram.sandbox import SandboxClient
from mluv.web.app import create_app
from tests.web.conftest import Client, log_in
from tests.workers.test_messaging import (  # the messaging jobs' harness and its sandbox fixtures
    add_users,
    broadcast_row,
    control,  # noqa: F401
    ctx,
    eventually,
    ledger,
    received_by_chat,
    sandbox_url,  # noqa: F401
    texts,
    worker,
)
from workers.broadcasts import broadcast, broadcast_batch
from workers.messaging import send_scheduled_messages

pytestmark = pytest.mark.integration

NOW = dt.datetime.now(dt.UTC)
CHANNEL = -1001234567890
# id: (language, days since last active, active, blocked)
LEARNERS = {
    1: ("ru", 0, True, False),
    2: ("ru", 5, True, False),
    3: ("ru", 40, True, False),
    4: ("uk", 0, True, False),
    5: ("uk", 10, True, False),
    6: ("uk", 1, False, False),  # left: never in an audience
    7: ("ru", 1, True, True),  # blocked the bot: never in an audience
}


@pytest.fixture
async def learners(web_resources: Resources) -> None:
    async with web_resources.session_factory.begin() as db:
        db.add_all(
            User(
                id=user_id,
                first_name="Learner",
                language=language,
                last_active_at=NOW - dt.timedelta(days=days, minutes=1),
                is_active=active,
                is_blocked=blocked,
            )
            for user_id, (language, days, active, blocked) in LEARNERS.items()
        )
        await audiences.add_channel(db, chat_id=CHANNEL, title="Mluv novinky", added_by="test")


async def compose(client: Client, csrf: str, **fields: str) -> ClientResponse:
    return await client.post("/dashboard/compose", data={"csrf": csrf, **fields}, allow_redirects=False)


def hidden(body: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)">', body)
    assert match, f"no hidden {name}"
    return html.unescape(match.group(1))


def bubble(body: str) -> str:
    match = re.search(r'<div class="tg-bubble" data-format="\w+">(.*?)</div>', body, re.S)
    assert match, "no preview"
    return match.group(1)


async def previewed(client: Client, csrf: str, **fields: str) -> dict[str, str]:
    """The form after its preview: the fields plus the preview's digest and nonce, ready to send."""
    response = await compose(client, csrf, do="preview", **fields)
    body = await response.text()
    assert response.status == 200, body
    return {**fields, "previewed": hidden(body, "previewed"), "nonce": hidden(body, "nonce")}


async def count(resources: Resources, model: Any) -> int:
    async with resources.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# --- the preview -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("post_format", "text", "shown"),
    [
        ("html", "<b>Ahoj</b> &amp; <i>vítej</i>", "<b>Ahoj</b> &amp; <i>vítej</i>"),
        ("html", "<strong>a</strong><em>b</em><ins>c</ins><del>d</del>", "<b>a</b><i>b</i><u>c</u><s>d</s>"),
        ("html", "<tg-spoiler>tajné</tg-spoiler>", '<span class="tg-spoiler">tajné</span>'),
        (
            "html",
            '<pre><code class="language-python">x &lt; 1</code></pre>',
            "<pre><code>x &lt; 1</code></pre>",
        ),
        (
            "html",
            '<a href="https://mluv.example/?a=1&amp;b=&quot;2&quot;">odkaz</a>',
            '<a href="https://mluv.example/?a=1&amp;b=&quot;2&quot;" rel=',
        ),
        (
            "html",
            '<a href="javascript:alert(1)">x</a>',
            '<a class="no-href" title="javascript:alert(1)">x</a>',
        ),
        ("plain", "<b>Ahoj</b> & <script>", "&lt;b&gt;Ahoj&lt;/b&gt; &amp; &lt;script&gt;"),
    ],
    ids=["bold-italic", "synonyms", "spoiler", "pre-code", "link", "javascript-link", "plain-escaped"],
)
async def test_the_preview_shows_what_learners_will_see(
    client: Client, learners: None, post_format: str, text: str, shown: str
) -> None:
    csrf = await log_in(client)
    response = await compose(client, csrf, do="preview", text=text, format=post_format)
    body = await response.text()
    assert response.status == 200, body
    assert shown in bubble(body)
    assert "<script>" not in body and 'href="javascript' not in body
    assert 'data-figure="audience-size">5<' in body  # everyone: active, not blocked
    assert 'name="do" value="send">' in body  # Send now is offered once previewed


async def test_a_plain_text_with_tags_is_sent_literally_and_says_so(client: Client, learners: None) -> None:
    csrf = await log_in(client)
    body = await (await compose(client, csrf, do="preview", text="<b>Ahoj</b>", format="plain")).text()
    assert "they arrive literally" in body


@pytest.mark.parametrize(
    ("fields", "field", "key", "params"),
    [
        ({"text": "<b>Ahoj", "format": "html"}, "text", "post-html-unclosed-tag", {"tag": "b"}),
        ({"text": "<img src=x>", "format": "html"}, "text", "post-html-unknown-tag", {"tag": "img"}),
        ({"text": "a < b", "format": "html"}, "text", "post-html-bare-lt", {}),
        ({"text": "   ", "format": "plain"}, "text", "post-error-empty", {}),
        (
            {"text": "x" * 4097, "format": "plain"},
            "text",
            "post-error-too-long",
            {"count": 4097, "limit": 4096},
        ),
        (
            {"text": "Ahoj", "active_days": "abc"},
            "active_days",
            "post-option-active",
            {"value": "abc", "limit": 365},
        ),
        (
            {"text": "Ahoj", "active_days": "400"},
            "active_days",
            "post-option-active",
            {"value": "400", "limit": 365},
        ),
        ({"text": "Ahoj", "language": "cs"}, "language", "post-option-lang", {"value": "cs"}),
        (
            {"text": "Ahoj", "audience": "channel:-100777"},
            "audience",
            "post-option-channel",
            {"value": "-100777"},
        ),
        (
            {"text": "Ahoj", "audience": f"channel:{CHANNEL}", "language": "uk"},
            "audience",
            "post-option-channel-alone",
            {},
        ),
        ({"text": "Ahoj", "send_at": "2020-01-01T09:00"}, "send_at", "schedule-error-past", None),
        (
            {"text": "Ahoj", "send_at": "tomorrow"},
            "send_at",
            "schedule-error-unreadable",
            {"value": "tomorrow"},
        ),
    ],
    ids=[
        "unclosed",
        "unknown-tag",
        "bare-lt",
        "empty",
        "too-long",
        "active-not-a-number",
        "active-too-many",
        "language",
        "unknown-channel",
        "channel-and-language",
        "past",
        "unreadable-time",
    ],
)
@pytest.mark.parametrize("messages", ["ru", "uk"])
@pytest.mark.parametrize("intent", ["preview", "send", "schedule"])
async def test_problems_show_by_their_field_and_nothing_is_stored(
    client: Client,
    web_resources: Resources,
    learners: None,
    fields: dict[str, str],
    field: str,
    key: str,
    params: dict[str, Any] | None,
    messages: str,
    intent: str,
) -> None:
    csrf = await log_in(client)
    data = {"operator_name": "Olga", "messages": messages, **fields}
    response = await compose(client, csrf, do=intent, **data)
    body = await response.text()
    assert response.status == 422, body
    shown = re.search(rf'<p class="field-error" id="{field}-error" lang="{messages}">(.*?)</p>', body)
    assert shown, f"no problem next to {field}"
    if params is None:  # the past: the message suggests a time that is always valid
        params = {"time": "2020-01-01 09:00", "example": example_time(dt.datetime.now(dt.UTC))}
    assert html.unescape(shown.group(1)) == t(messages, key, **params)
    assert 'class="tg-bubble"' not in body or field != "text"
    assert await count(web_resources, Broadcast) == 0
    assert await count(web_resources, ScheduledMessage) == 0


# --- the audience ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "size", "label"),
    [
        ({}, 5, "all learners"),
        ({"language": "ru"}, 3, "learners using ru"),
        ({"language": "uk"}, 2, "learners using uk"),
        ({"active_days": "1"}, 2, "all learners, active in the last day"),
        ({"active_days": "7"}, 3, "all learners, active in the last 7 days"),
        ({"language": "uk", "active_days": "7"}, 1, "learners using uk, active in the last 7 days"),
        ({"audience": f"channel:{CHANNEL}"}, 1, "channel «Mluv novinky»"),
    ],
    ids=["all", "ru", "uk", "active-1", "active-7", "uk-active-7", "channel"],
)
async def test_the_audience_and_its_size(
    client: Client, learners: None, fields: dict[str, str], size: int, label: str
) -> None:
    csrf = await log_in(client)
    body = await (await compose(client, csrf, do="preview", text="Ahoj", **fields)).text()
    assert f'data-figure="audience-size">{size}<' in body
    assert f'data-figure="audience">{html.escape(label)}<' in body


@pytest.mark.parametrize(
    ("rate", "fields", "cost"),
    [
        (0.0, {}, None),
        (500.0, {}, "0.5"),  # 5 learners x 0.1 Stars
        (500.0, {"language": "uk"}, "0.2"),
        (975.0, {"audience": f"channel:{CHANNEL}"}, "0.1"),
    ],
    ids=["off", "all", "uk", "channel"],
)
async def test_the_preview_shows_a_paid_broadcasts_cost_in_stars(
    client: Client,
    web_resources: Resources,
    learners: None,
    rate: float,
    fields: dict[str, str],
    cost: str | None,
) -> None:
    web_resources.settings = web_resources.settings.model_copy(
        update={"paid_broadcast_rate_per_second": rate}
    )
    csrf = await log_in(client)
    body = await (await compose(client, csrf, do="preview", text="Ahoj", **fields)).text()
    if cost is None:
        assert 'data-figure="paid-cost"' not in body and 'value="send-paid"' not in body
        return
    assert f"at most <strong>{cost} Telegram Stars</strong>" in body
    assert f"up to {rate:g} messages/s" in body
    assert f"Send now, paid ({cost} ⭐)" in body


async def test_send_now_paid_starts_a_paid_broadcast(
    client: Client, web_resources: Resources, learners: None
) -> None:
    csrf = await log_in(client)
    form = await previewed(client, csrf, text="Ahoj", operator_name="Olga")
    refused = await compose(client, csrf, do="send-paid", **form)  # paid broadcasts off: only a preview
    assert refused.status == 200 and await count(web_resources, Broadcast) == 0
    web_resources.settings = web_resources.settings.model_copy(update={"paid_broadcast_rate_per_second": 500})
    sent = await compose(client, csrf, do="send-paid", **form)
    assert sent.status == 303, await sent.text()
    async with web_resources.session_factory() as session:
        (row,) = (await session.scalars(select(Broadcast))).all()
    assert (row.status, row.paid) == ("confirmed", True)
    assert "paid" in sent.headers["Location"] and "0.5" in sent.headers["Location"]


# --- send now and schedule ---------------------------------------------------------------------------------


async def test_send_now_starts_one_broadcast_signed_by_the_operator(
    client: Client, web_resources: Resources, learners: None
) -> None:
    csrf = await log_in(client)
    form = await previewed(client, csrf, text="<b>Nová lekce</b>", format="html", language="uk")
    unsigned = await compose(client, csrf, do="send", **form)
    assert unsigned.status == 422 and "Sign the post with your name" in await unsigned.text()
    form["operator_name"] = "Olga"
    changed = await compose(client, csrf, do="send", **{**form, "language": "ru"})
    assert changed.status == 409  # not what was previewed: the new preview is shown, nothing sent
    assert "changed since its preview" in await changed.text()
    assert await count(web_resources, Broadcast) == 0
    sent = await compose(client, csrf, do="send", **form)
    assert sent.status == 303, await sent.text()
    again = await compose(client, csrf, do="send", **form)  # a double click
    assert again.status == 303
    async with web_resources.session_factory() as session:
        (row,) = (await session.scalars(select(Broadcast))).all()
    assert (row.operator, row.created_by, row.status) == ("Olga", None, "confirmed")
    assert (row.target, row.audience_language, row.active_days) == ("all", "uk", None)
    assert (row.text, row.parse_mode) == ("<b>Nová lekce</b>", "HTML")
    assert row.idempotency_key == f"web:{form['nonce']}"
    assert "started" in sent.headers["Location"] and f"%23{row.id}" in sent.headers["Location"]
    assert await web_resources.pool.exists(f"arq:job:broadcast:{row.id}")
    page = await (await client.get("/dashboard/compose")).text()
    assert f'data-broadcast="{row.id}"' in page and "learners using uk" in page and "by Olga" in page
    assert 'value="Olga"' in page  # the name is remembered for the next post


async def test_schedule_stores_a_post_for_its_time(
    client: Client, web_resources: Resources, learners: None
) -> None:
    csrf = await log_in(client)
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(second=0, microsecond=0)
    form = await previewed(
        client,
        csrf,
        text="Zítra <i>test</i>",
        format="html",
        active_days="7",
        send_at=at.strftime("%Y-%m-%dT%H:%M"),
        operator_name="Taras",
    )
    response = await compose(client, csrf, do="schedule", **form)
    assert response.status == 303, await response.text()
    async with web_resources.session_factory() as session:
        (row,) = (await session.scalars(select(ScheduledMessage))).all()
    assert (row.operator, row.status, row.send_at, row.parse_mode) == ("Taras", "scheduled", at, "HTML")
    assert (row.target, row.audience_language, row.active_days) == ("all", None, 7)
    page = await (await client.get("/dashboard/compose")).text()
    assert f"#{row.id}" in page and "Zítra test" in page and "active in the last 7 days" in page
    assert await count(web_resources, Broadcast) == 0
    missing = await compose(client, csrf, do="schedule", **{**form, "send_at": ""})
    assert missing.status == 422  # Schedule needs a time


async def test_cancel_a_scheduled_post(client: Client, web_resources: Resources, learners: None) -> None:
    csrf = await log_in(client)
    ids = []
    async with web_resources.session_factory.begin() as session:
        for text in ("Zrušit", "Ponechat"):
            ids.append(
                await posts.schedule_post(
                    session,
                    started_by=posts.StartedBy(operator="Olga"),
                    text=text,
                    send_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=2),
                    options=PostOptions(Audience(language="ru"), PostFormat.PLAIN),
                )
            )
    cancel, keep = ids
    response = await client.post(
        "/dashboard/actions/cancel-post", data={"csrf": csrf, "post_id": str(cancel)}, allow_redirects=False
    )
    assert response.status == 303 and "cancelled" in response.headers["Location"]
    twice = await client.post(
        "/dashboard/actions/cancel-post",
        data={"csrf": csrf, "post_id": str(cancel)},
        headers={"Accept": "application/json"},
    )
    assert (await twice.json())["ok"] is False
    async with web_resources.session_factory() as session:
        rows = (await session.execute(select(ScheduledMessage.id, ScheduledMessage.status))).tuples()
        status: dict[int, str] = dict(rows.all())
    assert status == {cancel: "cancelled", keep: "scheduled"}
    page = await (await client.get("/dashboard/compose")).text()
    assert "Ponechat" in page and "Zrušit" not in page


async def test_channels_are_added_offered_and_removed(client: Client, web_resources: Resources) -> None:
    csrf = await log_in(client)
    added = await client.post(
        "/dashboard/actions/add-channel",
        data={"csrf": csrf, "chat_id": "-100555", "title": "Mluv <news>"},
        allow_redirects=False,
    )
    assert added.status == 303
    page = await (await client.get("/dashboard/compose")).text()
    assert '<option value="channel:-100555">Channel: Mluv &lt;news&gt;</option>' in page
    for data in ({"chat_id": "abc", "title": "X"}, {"chat_id": "-100556", "title": "  "}):
        refused = await client.post(
            "/dashboard/actions/add-channel",
            data={"csrf": csrf, **data},
            headers={"Accept": "application/json"},
        )
        assert (await refused.json())["ok"] is False
    removed = await client.post(
        "/dashboard/actions/remove-channel", data={"csrf": csrf, "chat_id": "-100555"}, allow_redirects=False
    )
    assert removed.status == 303
    async with web_resources.session_factory() as session:
        assert await audiences.list_channels(session) == []


# --- access ------------------------------------------------------------------------------------------------


ACTIONS = {
    "/dashboard/compose": {"do": "send", "text": "Ahoj", "operator_name": "Olga"},
    "/dashboard/actions/cancel-post": {"post_id": "1"},
    "/dashboard/actions/add-channel": {"chat_id": "-100999", "title": "Evil"},
    "/dashboard/actions/remove-channel": {"chat_id": str(CHANNEL)},
}


@pytest.mark.parametrize("path", list(ACTIONS))
async def test_every_action_needs_a_session_and_the_csrf_token(
    client: Client, web_resources: Resources, learners: None, path: str
) -> None:
    assert (await client.post(path, data=ACTIONS[path])).status == 401  # no session
    csrf = await log_in(client)
    for data, headers in (
        (ACTIONS[path], {}),
        ({**ACTIONS[path], "csrf": "not-the-token"}, {}),
        ({**ACTIONS[path], "csrf": csrf}, {"Origin": "https://evil.example"}),
    ):
        assert (await client.post(path, data=data, headers=headers)).status == 403
    async with web_resources.session_factory() as session:
        channels = [c.chat_id for c in await audiences.list_channels(session)]
    assert channels == [CHANNEL]
    assert await count(web_resources, Broadcast) == 0


async def test_the_page_needs_a_login(client: Client) -> None:
    response = await client.get("/dashboard/compose", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/dashboard/login?next=%2Fdashboard%2Fcompose"


# --- the issue's check: from the web to each learner, once -------------------------------------------

UK_LEARNERS = (940_000_001, 940_000_002, 940_000_003)
RU_LEARNERS = (940_000_011, 940_000_012)


@pytest.fixture
async def sandboxed(
    web_settings: Settings,
    sandbox_url: str,  # noqa: F811 - the fixture imported above
    control: SandboxClient,  # noqa: F811
    clean_tables: None,
    redis: Any,
) -> AsyncIterator[Resources]:
    """Resources whose bot talks to the Bot API sandbox, with learners in both languages."""
    configured = web_settings.model_copy(
        update={
            "telegram_api_base": sandbox_url,
            "rate_limit_global_per_second": 200.0,
            "rate_limit_per_chat_per_second": 20.0,
        }
    )
    created = await Resources.create(configured)
    created.sender.limiter = RateLimiter.from_settings(created.pool, configured)
    learners = [(i, "uk") for i in UK_LEARNERS] + [(i, "ru") for i in RU_LEARNERS]
    for user_id, language in learners:
        await control.create_user(user_id, f"Learner {user_id}", language_code=language)  # type: ignore[arg-type]
    await add_users(created, learners)
    try:
        yield created
    finally:
        await created.close()


async def test_a_post_scheduled_on_the_web_reaches_each_learner_of_its_language_once(
    sandboxed: Resources,
    control: SandboxClient,  # noqa: F811 - the fixture imported above
) -> None:
    async with TestClient(TestServer(create_app(sandboxed))) as client:
        csrf = await log_in(client)
        at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
        for text in ("<b>Nová lekce</b> je tady", "Tohle se zruší"):
            form = await previewed(
                client, csrf, text=text, format="html", language="uk", send_at=at, operator_name="Olga"
            )
            assert (await compose(client, csrf, do="schedule", **form)).status == 303
        async with sandboxed.session_factory() as session:
            id_rows = (await session.execute(select(ScheduledMessage.text, ScheduledMessage.id))).tuples()
            ids: dict[str, int] = dict(id_rows.all())
        cancelled = await client.post(
            "/dashboard/actions/cancel-post",
            data={"csrf": csrf, "post_id": str(ids["Tohle se zruší"])},
            allow_redirects=False,
        )
        assert cancelled.status == 303
    async with sandboxed.session_factory.begin() as session:  # the hour passes
        await session.execute(
            update(ScheduledMessage).values(send_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    # Twice, as an overlapping or repeated cron run would: the post becomes one broadcast.
    for tick in ("a", "b"):
        await send_scheduled_messages.run(ctx(sandboxed, f"send_scheduled_messages:web-{tick}"))
    async with sandboxed.session_factory() as session:
        (made,) = (await session.scalars(select(Broadcast))).all()
    assert (made.operator, made.audience_language, made.parse_mode) == ("Olga", "uk", "HTML")
    async with worker(sandboxed, Queue.LONG, broadcast, broadcast_batch):

        async def completed() -> bool:
            return (await broadcast_row(sandboxed, made.id)).status == "completed"

        await eventually(completed, 60, "the broadcast to complete")
    assert await ledger(sandboxed, made.id) == {user_id: "sent" for user_id in UK_LEARNERS}
    received = await received_by_chat(control)
    assert {user_id: received.get(user_id, 0) for user_id in UK_LEARNERS + RU_LEARNERS} == {
        **{user_id: 1 for user_id in UK_LEARNERS},
        **{user_id: 0 for user_id in RU_LEARNERS},
    }
    assert await texts(control, UK_LEARNERS[0]) == ["Nová lekce je tady"]  # formatted, not "<b>"
    async with sandboxed.session_factory() as session:
        text_rows = (await session.execute(select(ScheduledMessage.text, ScheduledMessage.status))).tuples()
        sent: dict[str, str] = dict(text_rows.all())
    assert sent == {"<b>Nová lekce</b> je tady": "sent", "Tohle se zruší": "cancelled"}
