"""aiogram's response models kept alive per Bot (mluv.telegram.response_models)."""

from __future__ import annotations

import gc
from typing import Any, cast

import pytest
from aiogram.methods import EditMessageText, Response, SendMessage, TelegramMethod

from mluv.telegram.response_models import KeepResponseModels

ANSWER: Response[Any] = Response[Any](ok=True)


async def _answer(bot: Any, method: TelegramMethod[Any]) -> Response[Any]:
    return ANSWER


@pytest.mark.parametrize(
    "method",
    [SendMessage(chat_id=1, text="Ahoj"), EditMessageText(chat_id=1, message_id=2, text="Čau")],
    ids=["Message", "Message | bool"],
)
async def test_the_model_an_answer_is_parsed_with_survives_garbage_collection(
    method: TelegramMethod[Any],
) -> None:
    keep = KeepResponseModels()
    assert await keep(_answer, cast(Any, None), method) is ANSWER
    built = id(keep.kept[method.__returning__])
    gc.collect()
    # What aiogram's check_response gets next time is the model built before, not a new one.
    assert id(Response[method.__returning__]) == built  # type: ignore[name-defined]
    assert await keep(_answer, cast(Any, None), method) is ANSWER
    assert len(keep.kept) == 1
