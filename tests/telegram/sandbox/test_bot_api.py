"""The real aiogram Bot against the sandbox over HTTP: answers, Telegram's errors, limits and faults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyParameters,
)

from mluv.telegram.sandbox import FaultsConfig, SandboxClient, SandboxConfig, run_sandbox
from mluv.telegram.sandbox.media import png_bytes
from tests.telegram.sandbox.conftest import FakeClock, make_bot

Setup = Callable[[SandboxClient], Awaitable[Any]]


async def _nothing(control: SandboxClient) -> None:
    return None


async def test_get_me_is_the_sandbox_bot(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (1_000_000_001, True, "mluv_sandbox_bot")


async def test_send_message_returns_a_telegram_message(
    bot: Bot, control: SandboxClient, learner: int
) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Další", callback_data="next")]]
    )
    first = await bot.send_message(learner, "Ahoj!")
    sent = await bot.send_message(
        learner,
        "<b>Výborně</b>, Olgo!",
        parse_mode="HTML",
        reply_markup=keyboard,
        reply_parameters=ReplyParameters(message_id=first.message_id),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
        disable_notification=True,
    )
    assert sent.text == "Výborně, Olgo!"
    assert sent.entities is not None and sent.entities[0].type == "bold"
    assert sent.from_user is not None and sent.from_user.username == "mluv_sandbox_bot"
    assert sent.chat.id == learner and sent.chat.type == "private"
    assert sent.reply_markup is not None and sent.reply_markup.model_dump() == keyboard.model_dump()
    assert sent.reply_to_message is not None and sent.reply_to_message.message_id == first.message_id
    assert sent.message_id == first.message_id + 1

    records = await control.messages(learner)
    assert [record["text"] for record in records] == ["Ahoj!", "Výborně, Olgo!"]
    record = records[1]
    assert record["sent_text"] == "<b>Výborně</b>, Olgo!" and record["parse_mode"] == "HTML"
    assert record["reply_markup"] == {"inline_keyboard": [[{"text": "Další", "callback_data": "next"}]]}
    assert record["reply_to_message_id"] == first.message_id
    assert record["link_preview_options"] == {"is_disabled": True}
    assert record["disable_notification"] is True
    assert record["iso"].endswith("+00:00") and record["time"] > 1_600_000_000


@pytest.mark.parametrize(
    ("setup", "send", "error", "description"),
    [
        (
            lambda control: control.block(42),
            lambda bot: bot.send_message(42, "Ahoj"),
            TelegramForbiddenError,
            "Forbidden: bot was blocked by the user",
        ),
        (
            lambda control: control.set_chat_flags(42, deactivated=True),
            lambda bot: bot.send_message(42, "Ahoj"),
            TelegramForbiddenError,
            "Forbidden: user is deactivated",
        ),
        (
            _nothing,
            lambda bot: bot.send_message(777, "Ahoj"),
            TelegramBadRequest,
            "Bad Request: chat not found",
        ),
        (
            _nothing,
            lambda bot: bot.send_message(42, ""),
            TelegramBadRequest,
            "Bad Request: message text is empty",
        ),
        (
            _nothing,
            lambda bot: bot.send_message(42, "<b> </b>", parse_mode="HTML"),
            TelegramBadRequest,
            "Bad Request: message text is empty",
        ),
        (
            _nothing,
            lambda bot: bot.send_message(42, "č" * 4097),
            TelegramBadRequest,
            "Bad Request: message is too long",
        ),
        (
            _nothing,
            lambda bot: bot.send_photo(42, BufferedInputFile(png_bytes(2, 2), "a.png"), caption="x" * 1025),
            TelegramBadRequest,
            "Bad Request: message caption is too long",
        ),
        (
            _nothing,
            lambda bot: bot.send_message(42, "1 < 2", parse_mode="HTML"),
            TelegramBadRequest,
            'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 2',
        ),
        (
            _nothing,
            lambda bot: bot.send_message(
                42,
                "x",
                reply_markup=InlineKeyboardMarkup(
                    inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="d" * 65)]]
                ),
            ),
            TelegramBadRequest,
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            _nothing,
            lambda bot: bot.send_message(42, "x", reply_parameters=ReplyParameters(message_id=999)),
            TelegramBadRequest,
            "Bad Request: message to be replied not found",
        ),
        (
            _nothing,
            lambda bot: bot.send_photo(42, "no-such-file-id"),
            TelegramBadRequest,
            "Bad Request: wrong file identifier/HTTP URL specified",
        ),
    ],
    ids=[
        "blocked",
        "deactivated",
        "unknown-chat",
        "empty-text",
        "blank-after-html",
        "text-too-long",
        "caption-too-long",
        "bad-html",
        "callback-data-too-long",
        "reply-to-missing",
        "bad-file-id",
    ],
)
async def test_telegram_errors_reach_aiogram_as_its_exceptions(
    bot: Bot,
    control: SandboxClient,
    learner: int,
    setup: Setup,
    send: Callable[[Bot], Awaitable[Any]],
    error: type[TelegramAPIError],
    description: str,
) -> None:
    await setup(control)
    with pytest.raises(error) as raised:
        await send(bot)
    assert raised.value.message == description
    assert await control.messages(learner) == []


async def test_longest_text_and_caption_pass(bot: Bot, learner: int) -> None:
    assert (await bot.send_message(learner, "č" * 4096)).text == "č" * 4096
    photo = await bot.send_photo(learner, BufferedInputFile(png_bytes(2, 2), "a.png"), caption="x" * 1024)
    assert photo.caption == "x" * 1024


async def test_wrong_token_is_unauthorized(sandbox_url: str) -> None:
    stranger = make_bot(sandbox_url, token="123456:wrong-token")
    try:
        with pytest.raises(TelegramUnauthorizedError) as raised:
            await stranger.get_me()
        assert raised.value.message == "Unauthorized"
    finally:
        await stranger.session.close()


@pytest.mark.parametrize(
    ("limits", "chats", "sent", "retry_after"),
    [
        ({}, [42, 42, 42, 42], 3, 1),  # ~1/s per private chat, burst 3
        ({"private_per_second": 0.2, "private_burst": 1}, [42, 42], 1, 5),
        ({}, [-100] * 6, 5, 3),  # 20/min per group, burst 5
        ({"global_per_second": 2, "global_burst": 2}, [42, 43, 44], 2, 1),
        ({"global_per_second": 0.5, "global_burst": 1}, [42, 43], 1, 2),
    ],
    ids=["private", "private-slow", "group", "global", "global-slow"],
)
async def test_limits_answer_429_with_retry_after(
    bot: Bot,
    control: SandboxClient,
    limits: dict[str, Any],
    chats: list[int],
    sent: int,
    retry_after: int,
) -> None:
    for user_id in {chat for chat in chats if chat > 0}:
        await control.create_user(user_id)
    await control.create_group(-100, "Čeština A2")
    await control.set_limits(**limits)
    for chat in chats[:sent]:
        await bot.send_message(chat, "Ahoj")
    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(chats[sent], "Ahoj")
    assert raised.value.retry_after == retry_after
    # aiogram prefixes its own explanation to Telegram's description
    assert raised.value.message.endswith(
        f"Original description: Too Many Requests: retry after {retry_after}"
    )
    counters = await control.counters()
    assert (counters["sent"], counters["rate_limited_429"]) == (sent, 1)


async def test_a_send_passes_again_after_retry_after(bot: Bot, clock: FakeClock, learner: int) -> None:
    for _ in range(3):
        await bot.send_message(learner, "Ahoj")
    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(learner, "Ahoj")
    clock.advance(raised.value.retry_after)
    await bot.send_message(learner, "Ahoj")


async def test_limits_count_only_sends(bot: Bot, control: SandboxClient, learner: int) -> None:
    await control.set_limits(global_per_second=1, global_burst=1)
    for _ in range(5):
        await bot.get_me()
        await bot.send_chat_action(learner, "typing")
    # getMe and sendChatAction used no send allowance: the one-per-second burst is still there.
    assert (await bot.send_message(learner, "Ahoj")).text == "Ahoj"
    assert (await control.counters())["rate_limited_429"] == 0


async def test_concurrent_sends_stop_at_the_global_burst(bot: Bot, control: SandboxClient) -> None:
    await control.create_users(200, base_id=1000)
    await control.set_limits(global_per_second=100)
    results = await asyncio.gather(
        *(bot.send_message(chat_id, "Dobrý den") for chat_id in range(1000, 1200)), return_exceptions=True
    )
    retries = [result for result in results if isinstance(result, TelegramRetryAfter)]
    delivered = [result for result in results if not isinstance(result, BaseException)]
    assert len(delivered) == 100  # the clock is frozen: exactly one second's burst
    assert len(retries) == 100 and all(error.retry_after >= 1 for error in retries)
    counters = await control.counters()
    assert counters["sent"] == 100 and counters["rate_limited_429"] == 100
    assert counters["by_method"]["sendMessage"] == {"200": 100, "429": 100}
    assert sum(chat["received"] for chat in await control.chats()) == 100


@pytest.mark.parametrize(
    ("paid", "delivered"), [(None, 30), (False, 30), (True, 200)], ids=["unset", "false", "paid"]
)
async def test_allow_paid_broadcast_raises_the_global_limit(
    bot: Bot, control: SandboxClient, paid: bool | None, delivered: int
) -> None:
    await control.create_users(200, base_id=1000)
    results = await asyncio.gather(
        *(bot.send_message(chat_id, "Dobrý den", allow_paid_broadcast=paid) for chat_id in range(1000, 1200)),
        return_exceptions=True,
    )
    assert sum(1 for result in results if not isinstance(result, BaseException)) == delivered
    records = await control.latest_messages(limit=300)
    assert [record["paid_broadcast"] for record in records] == [bool(paid)] * delivered


@pytest.mark.parametrize("status", [500, 502])
async def test_server_error_fault_records_nothing(
    bot: Bot, control: SandboxClient, learner: int, status: int
) -> None:
    await control.set_faults(error_rate=1.0, error_statuses=[status])
    with pytest.raises(TelegramServerError) as raised:
        await bot.send_message(learner, "Ahoj")
    assert raised.value.message == {500: "Internal Server Error", 502: "Bad Gateway"}[status]
    assert await control.messages(learner) == []
    assert (await control.counters())["server_error_5xx"] == 1


async def test_forced_429_fault(bot: Bot, control: SandboxClient, learner: int) -> None:
    await control.set_faults(rate_limit_rate=1.0, rate_limit_retry_after=7)
    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(learner, "Ahoj")
    assert raised.value.retry_after == 7


@pytest.mark.parametrize("mode", ["hang", "close"])
async def test_dropped_answer_times_out_but_the_message_was_delivered(
    sandbox_url: str, control: SandboxClient, learner: int, mode: str
) -> None:
    await control.set_faults(drop_rate=1.0, drop_mode=mode)
    impatient = make_bot(sandbox_url, timeout=1)
    try:
        started = time.monotonic()
        with pytest.raises(TelegramNetworkError):
            await impatient.send_message(learner, "Ahoj")
        elapsed = time.monotonic() - started
    finally:
        await impatient.session.close()
    # A hung answer costs the whole timeout; a closed connection fails at once (well under it).
    assert elapsed >= 0.99 if mode == "hang" else elapsed < 0.99
    assert [record["text"] for record in await control.messages(learner)] == ["Ahoj"]
    counters = await control.counters()
    assert counters["dropped"] == 1 and counters["sent"] == 1


async def test_latency_fault_is_measurable(bot: Bot, control: SandboxClient) -> None:
    await bot.get_me()  # connection established
    started = time.monotonic()
    await bot.get_me()
    baseline = time.monotonic() - started
    await control.set_faults(latency_ms=150)
    started = time.monotonic()
    await bot.get_me()
    delayed = time.monotonic() - started
    assert delayed >= 0.15 and baseline < 0.15
    await control.set_faults(latency_ms=50, latency_max_ms=80)
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started >= 0.05


async def test_faults_are_settable_at_start() -> None:
    config = SandboxConfig(faults=FaultsConfig(error_rate=1.0, error_statuses=[500]))
    async with run_sandbox(port=0, config=config) as url, SandboxClient(url) as control:
        await control.create_user(42)
        bot = make_bot(url)
        try:
            with pytest.raises(TelegramServerError, match="Internal Server Error"):
                await bot.send_message(42, "Ahoj")
            assert await bot.get_me()  # faults hit sends only
        finally:
            await bot.session.close()


async def test_send_photo_upload_file_id_and_download(bot: Bot, control: SandboxClient, learner: int) -> None:
    image = png_bytes(1600, 900)
    sent = await bot.send_photo(
        learner, BufferedInputFile(image, "chart.png"), caption="<i>Týden</i>", parse_mode="HTML"
    )
    assert sent.photo is not None and [(size.width, size.height) for size in sent.photo][-1] == (1600, 900)
    assert sent.caption == "Týden" and sent.caption_entities is not None
    again = await bot.send_photo(learner, sent.photo[-1].file_id)
    assert again.photo is not None and again.photo[-1].width == 1600
    by_url = await bot.send_photo(learner, "https://example.org/chart.png")
    assert by_url.photo
    file = await bot.get_file(sent.photo[-1].file_id)
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == image
    records = await control.messages(learner)
    assert [record["method"] for record in records] == ["sendPhoto"] * 3
    assert records[0]["caption"] == "Týden" and records[0]["photo_file_id"] == sent.photo[-1].file_id


async def test_send_photo_refuses_what_is_not_an_image(bot: Bot, learner: int) -> None:
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(learner, BufferedInputFile(b"%PDF-1.4", "doc.pdf"))


async def test_edit_message_text_and_not_modified(bot: Bot, control: SandboxClient, learner: int) -> None:
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="OK", callback_data="ok")]])
    sent = await bot.send_message(learner, "Otázka 1", reply_markup=keyboard)
    edited = await bot.edit_message_text(
        "Otázka 2", chat_id=learner, message_id=sent.message_id, reply_markup=keyboard
    )
    assert not isinstance(edited, bool)
    assert edited.text == "Otázka 2" and edited.edit_date is not None
    assert edited.reply_markup is not None and edited.reply_markup.model_dump() == keyboard.model_dump()
    with pytest.raises(TelegramBadRequest) as raised:
        await bot.edit_message_text(
            "Otázka 2", chat_id=learner, message_id=sent.message_id, reply_markup=keyboard
        )
    assert raised.value.message.startswith("Bad Request: message is not modified")
    # the same text without the keyboard is a change: Telegram removes the keyboard
    without = await bot.edit_message_text("Otázka 2", chat_id=learner, message_id=sent.message_id)
    assert not isinstance(without, bool) and without.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=learner, message_id=999)
    [record] = await control.messages(learner)
    assert record["text"] == "Otázka 2" and record["original_text"] == "Otázka 1"
    assert [edit["text"] for edit in record["edits"]] == ["Otázka 2", "Otázka 2"]
    assert (await control.counters())["edited"] == 2


async def test_reply_markup_edit_and_delete(bot: Bot, control: SandboxClient, learner: int) -> None:
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="OK", callback_data="ok")]])
    sent = await bot.send_message(learner, "Hotovo?", reply_markup=keyboard)
    await bot.edit_message_reply_markup(chat_id=learner, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=learner, message_id=sent.message_id)
    assert await bot.delete_message(learner, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(learner, sent.message_id)
    [record] = await control.messages(learner)
    assert record["deleted"] and record["reply_markup"] is None


async def test_commands_chat_and_no_op_methods(bot: Bot, learner: int) -> None:
    commands = [
        BotCommand(command="start", description="Začít"),
        BotCommand(command="stats", description="Statistiky"),
    ]
    assert await bot.set_my_commands(commands)
    assert await bot.set_my_commands(commands[:1], language_code="uk")
    dumped = [command.model_dump() for command in commands]
    assert [command.model_dump() for command in await bot.get_my_commands()] == dumped
    assert [command.model_dump() for command in await bot.get_my_commands(language_code="uk")] == dumped[:1]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])
    chat = await bot.get_chat(learner)
    assert (chat.id, chat.first_name, chat.username, chat.type) == (learner, "Olga", "olga", "private")
    assert await bot.send_chat_action(learner, "typing")
    assert await bot.log_out()
    assert await bot.close()
