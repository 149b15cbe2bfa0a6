"""/broadcast and /schedule end to end against the sandbox, in ru and uk: the confirmation fits one message
whatever the text's length, an old draft's Confirm button sends nothing, an HTML broadcast to one language
reaches only its learners formatted, a post Telegram would refuse is explained and not kept, and
/schedule accepts its own usage example, lists the pending posts and cancels one."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.bot.dispatcher import create_dispatcher
from mluv.bot.handlers.broadcasts import PaidOffer, confirm_text, paid_offer
from mluv.bot.runner import BotRunner
from mluv.db.models import Broadcast, BroadcastStatus, ScheduledMessage, User
from mluv.domain.audience import Audience, PostOptions
from mluv.domain.post_format import PostFormat
from mluv.domain.schedule import example_time
from mluv.domain.telegram_text import TELEGRAM_TEXT_LIMIT, utf16_length
from mluv.i18n import t
from mluv.resources import Resources
from mluv.settings import Settings
from mluv.telegram import posts
from mluv.telegram.sandbox import MessageRecord, SandboxClient, SandboxConfig, run_sandbox
from mluv.worker import InProcessWorkers
from tests.bot.test_e2e import button_data, eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ADMINS: dict[Literal["ru", "uk"], int] = {"ru": 555_000_301, "uk": 555_000_302}
IN_BOTH_LANGUAGES = pytest.mark.parametrize("lang", ["ru", "uk"])


@dataclass
class Stack:
    sandbox: SandboxClient
    resources: Resources


@asynccontextmanager
async def running(settings: Settings, *, workers: bool) -> AsyncIterator[Stack]:
    async with (
        run_sandbox(port=0, config=SandboxConfig(auto_create_chats=False)) as url,
        SandboxClient(url) as sandbox,
    ):
        for lang, admin in ADMINS.items():
            await sandbox.create_user(admin, "Operator", language_code=lang)
        configured = settings.model_copy(
            update={"telegram_api_base": url, "admin_ids": list(ADMINS.values())}
        )
        resources = await Resources.create(configured)
        runner = BotRunner(create_dispatcher(resources), resources.bot, configured)
        in_process = InProcessWorkers(resources) if workers else None
        if in_process is not None:
            await in_process.start()
        await runner.start()
        try:
            yield Stack(sandbox, resources)
        finally:
            await runner.stop()
            if in_process is not None:
                await in_process.stop()
            await resources.close()


@pytest.fixture
async def stack(settings: Settings, clean_tables: None, redis: object) -> AsyncIterator[Stack]:
    """The bot alone: a confirmed broadcast's job is queued, not run."""
    async with running(settings, workers=False) as started:
        yield started


@pytest.fixture
async def working_stack(settings: Settings, clean_tables: None, redis: object) -> AsyncIterator[Stack]:
    """The bot and the workers: a confirmed broadcast is sent."""
    async with running(settings, workers=True) as started:
        yield started


def confirm_frame(lang: str, preview: str, count: int) -> str:
    """The confirmation of a plain broadcast to every learner."""
    everyone, plain = t(lang, "audience-everyone"), t(lang, "post-format-plain")
    return t(lang, "broadcast-confirm", preview=preview, count=count, audience=everyone, format=plain)


@IN_BOTH_LANGUAGES
@pytest.mark.parametrize("length", [20, 4000, 4060, 4085], ids=["short", "4000", "4060", "longest-command"])
async def test_the_confirmation_fits_one_message_whatever_the_length(
    stack: Stack, lang: Literal["ru", "uk"], length: int
) -> None:
    admin = ADMINS[lang]
    text = ("Ahoj všichni, dnes píšeme česky! " * 200)[:length].strip()
    await stack.sandbox.send_text(admin, f"/broadcast {text}")
    (confirm,) = await stack.sandbox.messages(admin, wait_for=1, within=10)
    assert confirm["text"] == confirm_text(lang, text, 1)
    assert utf16_length(confirm["text"] or "") <= TELEGRAM_TEXT_LIMIT
    assert len(button_data(confirm)) == 2
    shortened = t(lang, "broadcast-preview-shortened", count=utf16_length(text))
    whole = confirm_frame(lang, text, 1)
    if utf16_length(whole) > TELEGRAM_TEXT_LIMIT:  # Telegram would refuse it: the preview is shortened
        assert (confirm["text"] or "").endswith(confirm_frame(lang, shortened, 1)[-40:])
        assert shortened in (confirm["text"] or "") and "…" in (confirm["text"] or "")
    else:
        assert confirm["text"] == whole
    async with stack.resources.session_factory() as session:
        (draft,) = (await session.scalars(select(Broadcast))).all()
    assert draft.text == text  # the broadcast itself is the whole text


async def decision(stack: Stack, admin: int) -> tuple[Broadcast, MessageRecord]:
    """The draft once a button decided it, and the confirmation message as its edit left it."""

    async def decided() -> tuple[Broadcast, MessageRecord] | None:
        async with stack.resources.session_factory() as session:
            row = await session.scalar(select(Broadcast))
        (message,) = await stack.sandbox.messages(admin)
        done = row is not None and row.status != BroadcastStatus.DRAFT and message["edits"]
        return (row, message) if done and row is not None else None

    found: tuple[Broadcast, MessageRecord] = await eventually(decided, what="the decision and its edit")
    return found


@pytest.mark.parametrize(
    ("command", "stored"),
    [("/broadcast Ahoj všichni!", Broadcast), ("/schedule 2031-01-01 10:00 Ahoj všichni!", ScheduledMessage)],
    ids=["broadcast-draft", "scheduled-post"],
)
async def test_what_a_reply_names_is_stored_before_the_reply(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, command: str, stored: type[Broadcast | ScheduledMessage]
) -> None:
    # The session middleware commits after the handler: a slow commit made the confirm button (or the
    # "scheduled" reply) reach Telegram before its row existed, and an admin pressing it quickly saw
    # nothing happen (a CI run caught it as a 3-day-old draft sent anyway).
    commit = AsyncSession.commit

    async def slow_commit(session: AsyncSession) -> None:
        await asyncio.sleep(0.5)
        await commit(session)

    monkeypatch.setattr(AsyncSession, "commit", slow_commit)
    await stack.sandbox.send_text(ADMINS["ru"], command)
    await stack.sandbox.messages(ADMINS["ru"], wait_for=1, within=10)
    async with stack.resources.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(stored)) == 1


@IN_BOTH_LANGUAGES
@pytest.mark.parametrize(
    ("age", "expired"),
    [
        (dt.timedelta(minutes=1), False),
        (posts.DRAFT_LIFETIME - dt.timedelta(minutes=1), False),
        (posts.DRAFT_LIFETIME + dt.timedelta(seconds=1), True),
        (dt.timedelta(days=3), True),
    ],
    ids=["fresh", "just-in-time", "just-expired", "days-old"],
)
async def test_an_old_drafts_confirm_button_sends_nothing(
    stack: Stack, lang: Literal["ru", "uk"], age: dt.timedelta, expired: bool
) -> None:
    admin = ADMINS[lang]
    await stack.sandbox.send_text(admin, "/broadcast Ahoj všichni!")
    (confirm,) = await stack.sandbox.messages(admin, wait_for=1, within=10)
    async with stack.resources.session_factory.begin() as session:
        aged = await session.execute(update(Broadcast).values(created_at=dt.datetime.now(dt.UTC) - age))
    assert aged.rowcount == 1, "the draft is stored before its confirmation is sent"  # type: ignore[attr-defined]
    confirm_button = next(data for data in button_data(confirm) if "confirm" in data)
    await stack.sandbox.press_button(admin, confirm["message_id"], confirm_button)
    minutes = int(posts.DRAFT_LIFETIME.total_seconds() // 60)
    wanted = t(lang, "broadcast-expired", count=minutes) if expired else None
    row, edited = await decision(stack, admin)
    assert row.status == (BroadcastStatus.CANCELLED if expired else BroadcastStatus.CONFIRMED)
    if wanted is not None:
        assert edited["text"] == wanted
        assert button_data(edited) == []
    else:
        assert edited["text"] == t(lang, "broadcast-confirmed", count=1)


@IN_BOTH_LANGUAGES
@pytest.mark.parametrize(
    ("rate", "recipients", "stars"),
    [(0.0, 5, None), (500.0, 1, "0,1"), (500.0, 3, "0,3"), (975.0, 12_345, "1\u202f234,5")],
    ids=["off", "1", "3", "12345"],
)
def test_the_paid_offer_costs_a_tenth_of_a_star_per_recipient(
    settings: Settings, lang: Literal["ru", "uk"], rate: float, recipients: int, stars: str | None
) -> None:
    offer = paid_offer(settings.model_copy(update={"paid_broadcast_rate_per_second": rate}), recipients)
    assert (offer.stars if offer else None) == stars
    text = confirm_text(lang, "Ahoj!", recipients, paid=offer)
    plain = confirm_frame(lang, "Ahoj!", recipients)
    if offer is None:
        assert text == plain
    else:
        rate_text = f"{rate:g}"
        wanted = t(lang, "broadcast-paid-offer", rate=rate_text, stars=stars, count=str(recipients))
        assert text == f"{plain}\n\n{wanted}"
        assert f"{stars} ⭐" in wanted and rate_text in wanted


@IN_BOTH_LANGUAGES
@pytest.mark.parametrize(
    ("rate", "others", "stars"),
    [
        (0.0, 0, None),
        (500.0, 2, {"ru": "0,3", "uk": "0,3"}),
        (975.0, 12_344, {"ru": "1\u202f234,5", "uk": "1\u202f234,5"}),
    ],
    ids=["off", "3-recipients", "12345-recipients"],
)
async def test_a_paid_broadcast_is_offered_with_its_cost_in_stars_and_recorded_as_paid(
    settings: Settings,
    clean_tables: None,
    redis: object,
    lang: Literal["ru", "uk"],
    rate: float,
    others: int,
    stars: dict[str, str] | None,
) -> None:
    paid_settings = settings.model_copy(update={"paid_broadcast_rate_per_second": rate})
    async with running(paid_settings, workers=False) as stack:
        admin = ADMINS[lang]
        async with stack.resources.session_factory.begin() as session:
            session.add_all(User(id=900_000_000 + n, first_name="Learner") for n in range(others))
        await stack.sandbox.send_text(admin, "/broadcast Ahoj všichni!")
        (confirm,) = await stack.sandbox.messages(admin, wait_for=1, within=10)
        count = others + 1  # the learners and the admin, who is a learner too
        offer = PaidOffer(rate, stars[lang]) if stars else None
        assert confirm["text"] == confirm_text(lang, "Ahoj všichni!", count, paid=offer)
        buttons = button_data(confirm)
        if offer is None:
            assert len(buttons) == 2 and t(lang, "btn-confirm-paid", stars="0") not in str(confirm)
            return
        # 0.1 Stars for each message: one per recipient, every one sent with allow_paid_broadcast.
        assert t(lang, "broadcast-paid-offer", rate=f"{rate:g}", stars=offer.stars, count=str(count)) in (
            confirm["text"] or ""
        )
        labels = [b["text"] for row in confirm["reply_markup"]["inline_keyboard"] for b in row]  # type: ignore[index]
        assert t(lang, "btn-confirm-paid", stars=offer.stars) in labels
        paid_button = next(data for data in buttons if data.startswith("bc:paid:"))
        await stack.sandbox.press_button(admin, confirm["message_id"], paid_button)
        row, edited = await decision(stack, admin)
        assert (row.status, row.paid) == (BroadcastStatus.CONFIRMED, True)
        assert edited["text"] == t(lang, "broadcast-confirmed-paid", count=str(count), stars=offer.stars)


# --- the audience and Telegram HTML --------------------------------------------------------------------

UK_LEARNERS = (555_000_401, 555_000_402)
RU_LEARNERS = (555_000_403, 555_000_404)


async def add_learners(stack: Stack) -> None:
    """Two learners of each language, in the sandbox (so sends reach them) and the database."""
    async with stack.resources.session_factory.begin() as session:
        segments: tuple[tuple[Literal["ru", "uk"], tuple[int, ...]], ...] = (
            ("uk", UK_LEARNERS),
            ("ru", RU_LEARNERS),
        )
        for language, ids in segments:
            for user_id in ids:
                await stack.sandbox.create_user(user_id, "Learner", language_code=language)
                session.add(User(id=user_id, first_name="Learner", language=language))


async def test_an_html_broadcast_to_one_language_reaches_only_its_learners_formatted(
    working_stack: Stack,
) -> None:
    stack, admin = working_stack, ADMINS["uk"]
    await add_learners(stack)
    await stack.sandbox.send_text(admin, "/broadcast --lang uk --html <b>Ahoj</b> všichni! &lt;3")
    (confirm,) = await stack.sandbox.messages(admin, wait_for=1, within=10)
    audience = t("uk", "audience-language", language="uk")
    recipients = len(UK_LEARNERS) + 1  # the Ukrainian-speaking admin is a learner too
    assert confirm["parse_mode"] == "HTML"  # Telegram itself renders the preview
    assert confirm["text"] == t(
        "uk",
        "broadcast-confirm",
        preview="Ahoj všichni! <3",
        count=recipients,
        format="HTML",
        audience=audience,
    )
    shown = confirm["text"] or ""
    preview_at = utf16_length(shown[: shown.index("Ahoj")])  # entities count UTF-16 units
    assert {"type": "bold", "offset": preview_at, "length": 4} in confirm["entities"]
    confirm_button = next(data for data in button_data(confirm) if "confirm" in data)
    await stack.sandbox.press_button(admin, confirm["message_id"], confirm_button)
    for learner in UK_LEARNERS:
        (received,) = await stack.sandbox.messages(learner, wait_for=1, within=20)
        assert received["text"] == "Ahoj všichni! <3"  # formatted: the tags are gone, the entity is there
        assert received["entities"] == [{"type": "bold", "offset": 0, "length": 4}]

    async def completed() -> Broadcast | None:
        async with stack.resources.session_factory() as session:
            row = await session.scalar(select(Broadcast))
        return row if row is not None and row.status == BroadcastStatus.COMPLETED else None

    row = await eventually(completed, what="the broadcast to complete")
    assert (row.total, row.sent, row.audience_language, row.parse_mode) == (
        recipients,
        recipients,
        "uk",
        "HTML",
    )
    assert (row.created_by, row.finished_at is not None) == (admin, True)
    for learner in RU_LEARNERS:
        assert await stack.sandbox.messages(learner) == []


@IN_BOTH_LANGUAGES
@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("/broadcast --html <b>Ahoj", ("post-html-unclosed-tag", {"tag": "b"})),
        ("/broadcast --html <h1>Ahoj</h1>", ("post-html-unknown-tag", {"tag": "h1"})),
        ("/broadcast --html 1 < 2", ("post-html-bare-lt", {})),
        ("/broadcast --lang cs Ahoj", ("post-option-lang", {"value": "cs"})),
        ("/broadcast --channel -100777 Ahoj", ("post-option-channel", {"value": "-100777"})),
    ],
    ids=["unclosed", "unknown-tag", "bare-lt", "language", "unknown-channel"],
)
async def test_a_broadcast_telegram_would_refuse_is_explained_and_not_drafted(
    stack: Stack, lang: Literal["ru", "uk"], command: str, problem: tuple[str, dict[str, str]]
) -> None:
    admin = ADMINS[lang]
    await stack.sandbox.send_text(admin, command)
    (reply,) = await stack.sandbox.messages(admin, wait_for=1, within=10)
    key, params = problem
    explained = t(lang, "broadcast-invalid", text=t(lang, key, **params))
    assert (reply["text"] or "").startswith(explained)
    assert button_data(reply) == []
    async with stack.resources.session_factory() as session:
        assert (await session.scalars(select(Broadcast))).all() == []


@IN_BOTH_LANGUAGES
async def test_a_plain_broadcast_with_tags_is_sent_as_written_and_the_operator_is_told(
    stack: Stack, lang: Literal["ru", "uk"]
) -> None:
    admin = ADMINS[lang]
    await stack.sandbox.send_text(admin, "/broadcast <b>Ahoj</b>")
    confirm, hint = await stack.sandbox.messages(admin, wait_for=2, within=10)
    assert confirm["text"] == confirm_text(lang, "<b>Ahoj</b>", 1) and confirm["parse_mode"] is None
    assert hint["text"] == t(lang, "broadcast-html-hint")


# --- /schedule ---------------------------------------------------------------------------------------------


async def scheduled(stack: Stack, *, count: int) -> list[ScheduledMessage]:
    """The scheduled posts once `count` are committed (the reply leaves before the handler's commit)."""

    async def committed() -> list[ScheduledMessage] | None:
        async with stack.resources.session_factory() as session:
            rows = list(await session.scalars(select(ScheduledMessage).order_by(ScheduledMessage.id)))
        return rows if len(rows) == count else None

    found: list[ScheduledMessage] = await eventually(committed, what=f"{count} scheduled posts")
    return found


def asker(stack: Stack, admin: int) -> Callable[[str], Awaitable[str]]:
    """Send a command, return the bot's reply (at most FLOOD_LIMIT commands per test: the flood guard)."""

    async def ask(command: str) -> str:
        before = len(await stack.sandbox.messages(admin))
        await stack.sandbox.send_text(admin, command)
        replies = await stack.sandbox.messages(admin, wait_for=before + 1, within=10)
        return replies[before]["text"] or ""

    return ask


@IN_BOTH_LANGUAGES
async def test_schedule_accepts_its_own_usage_example_and_refuses_a_past_time(
    stack: Stack, lang: Literal["ru", "uk"]
) -> None:
    ask = asker(stack, ADMINS[lang])
    usage = await ask("/schedule")
    example = example_time(dt.datetime.now(dt.UTC))
    assert usage == t(lang, "schedule-usage", example=example)
    assert all(form in usage for form in ("UTC", "+30m", "18:00", example, "list", "cancel"))
    done = await ask(f"/schedule {example} Dobré ráno!")
    (post,) = await scheduled(stack, count=1)
    everyone = t(lang, "audience-everyone")
    assert done == t(lang, "schedule-done", time=example, id=str(post.id), audience=everyone)
    assert post.send_at.strftime("%Y-%m-%d %H:%M") == example
    assert (post.text, post.parse_mode) == ("Dobré ráno!", None)

    past = await ask("/schedule 2020-01-01 09:00 Pozdě")
    reason = t(lang, "schedule-error-past", time="2020-01-01 09:00", example=example)
    assert past == t(lang, "schedule-invalid", text=reason) + "\n\n" + usage  # the usage follows
    assert len(await scheduled(stack, count=1)) == 1


@IN_BOTH_LANGUAGES
async def test_schedule_to_a_language_in_html(stack: Stack, lang: Literal["ru", "uk"]) -> None:
    ask = asker(stack, ADMINS[lang])
    assert await ask("/schedule list") == t(lang, "schedule-list-empty")
    before = dt.datetime.now(dt.UTC)
    done = await ask("/schedule --lang uk --html +30m <i>Za půl hodiny</i>")
    (post,) = await scheduled(stack, count=1)
    uk_learners = t(lang, "audience-language", language="uk")
    when = post.send_at.strftime("%Y-%m-%d %H:%M")
    assert done == t(lang, "schedule-done", time=when, id=str(post.id), audience=uk_learners)
    assert dt.timedelta(minutes=30) <= post.send_at - before <= dt.timedelta(minutes=31)
    assert (post.parse_mode, post.audience_language, post.created_by) == ("HTML", "uk", ADMINS[lang])
    assert await ask("/schedule cancel") == t(lang, "schedule-cancel-usage")


@IN_BOTH_LANGUAGES
async def test_schedule_list_and_cancel(stack: Stack, lang: Literal["ru", "uk"]) -> None:
    now = dt.datetime.now(dt.UTC)
    uk_html = PostOptions(Audience(language="uk"), PostFormat.HTML)
    async with stack.resources.session_factory.begin() as session:
        later = await posts.schedule_post(
            session,
            started_by=posts.StartedBy(ADMINS["ru"]),
            text="Dobré ráno!",
            send_at=now + dt.timedelta(days=1),
        )
        soon = await posts.schedule_post(
            session,
            started_by=posts.StartedBy(operator="olga"),
            text="<i>Za půl\nhodiny</i>",
            send_at=now + dt.timedelta(minutes=30),
            options=uk_html,
        )
    ask = asker(stack, ADMINS[lang])
    listed = (await ask("/schedule list")).splitlines()
    times = {post.id: post.send_at.strftime("%Y-%m-%d %H:%M") for post in await scheduled(stack, count=2)}
    item = functools.partial(t, lang, "schedule-list-item")
    assert listed == [
        t(lang, "schedule-list-header", count=2),
        item(
            id=str(soon),
            time=times[soon],
            audience=t(lang, "audience-language", language="uk"),
            format="HTML",
            preview="Za půl hodiny",  # the text as learners will see it, on one line
        ),
        item(
            id=str(later),
            time=times[later],
            audience=t(lang, "audience-everyone"),
            format=t(lang, "post-format-plain"),
            preview="Dobré ráno!",
        ),
        t(lang, "schedule-list-footer"),
    ]
    assert await ask(f"/schedule cancel {soon}") == t(lang, "schedule-cancelled", id=str(soon))
    assert await ask(f"/schedule cancel {soon}") == t(lang, "schedule-cancel-missing", id=str(soon))
    statuses = {post.id: post.status for post in await scheduled(stack, count=2)}
    assert statuses == {later: "scheduled", soon: "cancelled"}
