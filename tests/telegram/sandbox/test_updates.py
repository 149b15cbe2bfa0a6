"""Updates reaching the real aiogram client: long polling, offsets, webhook push, buttons, blocking."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError, TelegramForbiddenError
from aiogram.types import (
    CallbackQuery,
    ChatMemberBanned,
    ChatMemberMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from aiohttp import web

from mluv.telegram.sandbox import SandboxClient, run_sandbox
from mluv.telegram.sandbox.state import JSON
from tests.telegram.sandbox.conftest import eventually, make_bot


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    bot: Bot, control: SandboxClient, learner: int
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.1)
    assert not poll.done()  # waiting for an update
    started = time.monotonic()
    await control.send_text(learner, "Dobrý den")
    async with asyncio.timeout(2):
        updates = await poll
    assert time.monotonic() - started < 5  # not the 10 s poll timeout (loose for a loaded CI machine)
    [update] = updates
    assert update.message is not None and update.message.text == "Dobrý den"
    assert update.message.from_user is not None and update.message.from_user.language_code == "uk"


async def test_long_poll_gives_up_after_its_timeout(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 5


async def test_offset_confirms_like_telegram(bot: Bot, control: SandboxClient, learner: int) -> None:
    for text in ("jedna", "dva", "tři"):
        await control.send_text(learner, text)
    first = await bot.get_updates(limit=2)
    assert [update.message.text for update in first if update.message] == ["jedna", "dva"]
    again = await bot.get_updates()
    assert [update.update_id for update in again] == [1, 2, 3]  # nothing confirmed yet
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [update.update_id for update in rest] == [3]
    assert await bot.get_updates(offset=4) == []
    assert await control.pending_updates() == []


async def test_a_command_carries_a_bot_command_entity(bot: Bot, control: SandboxClient, learner: int) -> None:
    await control.send_text(learner, "/start ref-42")
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.entities is not None
    entity = update.message.entities[0]
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 6)


async def test_redelivered_update_keeps_its_update_id(bot: Bot, control: SandboxClient, learner: int) -> None:
    update = await control.send_text(learner, "dekuji moc")
    [received] = await bot.get_updates()
    await bot.get_updates(offset=received.update_id + 1, timeout=0)
    await control.redeliver(update["update_id"])
    [again] = await bot.get_updates()
    assert again.update_id == received.update_id
    assert again.message is not None and again.message.message_id == received.message.message_id  # type: ignore[union-attr]


async def test_inline_keyboard_round_trip(bot: Bot, control: SandboxClient, learner: int) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text="Ano", callback_data="yes")],
            [InlineKeyboardButton(text="Ne", callback_data="no")],
        ]
    )
    sent = await bot.send_message(learner, "Pokračovat?", reply_markup=keyboard)
    await control.press_button(learner, sent.message_id, "yes")
    [update] = await bot.get_updates()
    query = update.callback_query
    assert isinstance(query, CallbackQuery)
    assert query.data == "yes" and query.from_user.id == learner
    assert isinstance(query.message, Message) and query.message.message_id == sent.message_id
    assert query.message.reply_markup is not None
    assert await bot.answer_callback_query(query.id, text="Díky!")
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)
    [record] = await control.callbacks()
    assert record["answered"] and record["answer"]["text"] == "Díky!"


async def test_pressing_a_button_needs_a_bot_message(control: SandboxClient, learner: int) -> None:
    from mluv.telegram.sandbox import SandboxError

    with pytest.raises(SandboxError) as raised:
        await control.press_button(learner, 999, "yes")
    assert raised.value.status == 404


async def test_blocking_is_a_my_chat_member_update_and_sends_fail(
    bot: Bot, control: SandboxClient, learner: int
) -> None:
    await control.block(learner)
    [update] = await bot.get_updates(allowed_updates=["message", "my_chat_member"])
    assert isinstance(update, Update) and update.my_chat_member is not None
    assert isinstance(update.my_chat_member.new_chat_member, ChatMemberBanned)
    assert isinstance(update.my_chat_member.old_chat_member, ChatMemberMember)
    assert update.my_chat_member.new_chat_member.user.id == 1_000_000_001
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(learner, "Ahoj")
    await control.unblock(learner)
    [_, unblocked] = await bot.get_updates()
    assert unblocked.my_chat_member is not None
    assert isinstance(unblocked.my_chat_member.new_chat_member, ChatMemberMember)
    assert (await bot.send_message(learner, "Vítejte zpět")).text == "Vítejte zpět"


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice"])
async def test_media_updates_parse(bot: Bot, control: SandboxClient, learner: int, kind: str) -> None:
    await control.send_media(learner, kind)  # type: ignore[arg-type]
    [update] = await bot.get_updates()
    assert update.message is not None and getattr(update.message, kind)
    file_id = update.message.photo[-1].file_id if kind == "photo" else getattr(update.message, kind).file_id  # type: ignore[index]
    file = await bot.get_file(file_id)
    assert file.file_path is not None and await bot.download_file(file.file_path) is not None


async def test_a_second_poller_ends_the_first_with_409(sandbox_url: str, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.1)
    other = make_bot(sandbox_url)
    try:
        second = asyncio.create_task(other.get_updates(timeout=0))
        with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
            async with asyncio.timeout(2):
                await first
        assert await second == []
    finally:
        await other.session.close()


@dataclass
class Receiver:
    url: str
    received: list[tuple[JSON, str | None]] = field(default_factory=list)
    answers: list[web.Response] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A tiny webhook endpoint on a free port, recording each update and the secret header."""
    box: list[Receiver] = []

    async def handle(request: web.Request) -> web.Response:
        target = box[0]
        target.received.append((await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        target.arrived.set()
        return target.answers.pop(0) if target.answers else web.json_response({})

    app = web.Application()
    app.router.add_post("/webhook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    box.append(Receiver(f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"))
    yield box[0]
    await runner.cleanup()


async def _wait_for(receiver: Receiver, count: int) -> None:
    async with asyncio.timeout(5):
        while len(receiver.received) < count:
            receiver.arrived.clear()
            await receiver.arrived.wait()


async def test_webhook_push_with_secret_and_getupdates_conflict(
    bot: Bot, control: SandboxClient, learner: int, receiver: Receiver
) -> None:
    await control.send_text(learner, "čekám")  # pending before the webhook is set
    assert await bot.set_webhook(receiver.url, secret_token="s3cret-Token_1")
    await control.send_text(learner, "Dobry den")
    await _wait_for(receiver, 2)
    assert [update["message"]["text"] for update, _ in receiver.received] == ["čekám", "Dobry den"]
    assert {secret for _, secret in receiver.received} == {"s3cret-Token_1"}
    Update.model_validate(receiver.received[0][0])
    with pytest.raises(TelegramConflictError) as raised:
        await bot.get_updates()
    assert raised.value.message == (
        "Conflict: can't use getUpdates method while webhook is active; "
        "use deleteWebhook to delete the webhook first"
    )
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count, info.max_connections) == (receiver.url, 0, 40)
    assert await bot.delete_webhook()
    await control.send_text(learner, "zase polling")
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.text == "zase polling"
    assert (await control.counters())["webhook_delivered"] == 2


async def test_webhook_without_secret_sends_no_header_and_drop_pending(
    bot: Bot, control: SandboxClient, learner: int, receiver: Receiver
) -> None:
    await control.send_text(learner, "stará zpráva")
    assert await bot.set_webhook(receiver.url, drop_pending_updates=True)
    await control.send_text(learner, "nová")
    await _wait_for(receiver, 1)
    assert receiver.received == [(receiver.received[0][0], None)]
    assert receiver.received[0][0]["message"]["text"] == "nová"


async def test_webhook_failure_is_retried_and_reported(
    bot: Bot, control: SandboxClient, learner: int, receiver: Receiver
) -> None:
    receiver.answers.append(web.Response(status=500))
    await bot.set_webhook(receiver.url)
    await control.send_text(learner, "znovu")
    await _wait_for(receiver, 2)  # failed once, delivered on the retry
    assert receiver.received[0][0] == receiver.received[1][0]
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    counters = await control.counters()
    assert (counters["webhook_failed"], counters["webhook_delivered"]) == (1, 1)


async def test_webhook_answer_may_carry_a_method(
    bot: Bot, control: SandboxClient, learner: int, receiver: Receiver
) -> None:
    receiver.answers.append(web.json_response({"method": "sendMessage", "chat_id": learner, "text": "Ahoj!"}))
    await bot.set_webhook(receiver.url)
    await control.send_text(learner, "ahoj")
    [record] = await control.messages(learner, wait_for=1, within=5)
    assert record["text"] == "Ahoj!"


async def test_the_real_dispatcher_runs_against_the_sandbox(
    bot: Bot, control: SandboxClient, learner: int
) -> None:
    """aiogram's own polling loop, handlers and callback answers, unchanged."""
    dispatcher = Dispatcher()
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Další", callback_data="next")]]
    )

    @dispatcher.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"Napsal(a) jste: {message.text}", reply_markup=keyboard)

    @dispatcher.callback_query(F.data == "next")
    async def next_exercise(query: CallbackQuery) -> None:
        await query.answer("OK")
        if isinstance(query.message, Message):
            await query.message.edit_text("Cvičení 2")

    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)
    )
    try:
        await control.send_text(learner, "Dobry den")
        [reply] = await control.messages(learner, wait_for=1, within=5)
        assert reply["text"] == "Napsal(a) jste: Dobry den"
        await control.press_button(learner, reply["message_id"], "next")

        async def edited() -> bool:
            return bool((await control.messages(learner))[0]["edits"])

        await eventually(edited)
        assert (await control.messages(learner))[0]["text"] == "Cvičení 2"
        assert (await control.callbacks())[0]["answered"]
    finally:
        await dispatcher.stop_polling()
        await polling


async def test_the_sandbox_stops_promptly_with_a_poll_waiting() -> None:
    async with run_sandbox(port=0) as url:
        bot = make_bot(url)
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await asyncio.sleep(0.1)
        started = time.monotonic()
    assert time.monotonic() - started < 2
    async with asyncio.timeout(2):
        assert await poll == []
    await bot.session.close()


async def test_group_chats(bot: Bot, control: SandboxClient, learner: int) -> None:
    await control.create_group(-1001234, "Čeština A1")
    await control.send_text(learner, "Ahoj všichni", chat_id=-1001234)
    [update] = await bot.get_updates()
    assert update.message is not None and update.message.chat.type == "supergroup"
    assert update.message.chat.title == "Čeština A1" and update.message.from_user is not None
    reply = await bot.send_message(
        -1001234, "Ahoj!", reply_parameters=ReplyParameters(message_id=update.message.message_id)
    )
    assert reply.chat.id == -1001234 and reply.reply_to_message is not None
    assert [record["text"] for record in await control.messages(-1001234)] == ["Ahoj!"]


async def test_aiograms_webhook_handler_works_unchanged(
    bot: Bot, control: SandboxClient, learner: int
) -> None:
    """aiogram's SimpleRequestHandler checks the secret header and answers in the webhook response."""
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler

    dispatcher = Dispatcher()

    @dispatcher.message(F.text)
    async def echo(message: Message) -> object:
        return message.answer(f"Napsal(a) jste: {message.text}")  # sent in the webhook's answer

    app = web.Application()
    handler = SimpleRequestHandler(dispatcher, bot, handle_in_background=False, secret_token="tajne")
    handler.register(app, "/webhook")
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        await bot.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/webhook", secret_token="tajne")
        await control.send_text(learner, "ahoj")
        [record] = await control.messages(learner, wait_for=1, within=5)
        assert record["text"] == "Napsal(a) jste: ahoj"
        assert (await bot.get_webhook_info()).last_error_message is None
    finally:
        await runner.cleanup()
