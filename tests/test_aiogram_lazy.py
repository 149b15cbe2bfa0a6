"""aiogram imported after mluv builds its models on first use, and every one of them still builds.

Each check runs in a fresh interpreter: in this one aiogram is imported already.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO_ROOT

EVERY_MODEL_BUILDS = """
import mluv
import aiogram
from pydantic import BaseModel
from aiogram import methods, types

assert not types.Message.__pydantic_complete__, "Message was built at import"
assert not methods.SendMessage.__pydantic_complete__, "SendMessage was built at import"
# What the bot and the Sender use first: an update in, a message out, Telegram's answer back.
update = types.Update.model_validate({
    "update_id": 1,
    "message": {"message_id": 5, "date": 1700000000, "chat": {"id": 42, "type": "private"},
                "from": {"id": 42, "is_bot": False, "first_name": "Olena", "language_code": "uk"},
                "text": "Ahoj, jak se máš?"},
})
assert update.message.from_user.language_code == "uk" and update.message.chat.id == 42
request = methods.SendMessage(chat_id=42, text="Výborně!", reply_markup=types.InlineKeyboardMarkup(
    inline_keyboard=[[types.InlineKeyboardButton(text="Další", callback_data="next")]]))
assert request.model_dump(exclude_none=True)["reply_markup"]["inline_keyboard"][0][0]["text"] == "Další"
built = 0
for module in (types, methods):
    for name in module.__all__:
        model = getattr(module, name)
        if isinstance(model, type) and issubclass(model, BaseModel) and model is not BaseModel:
            model.model_rebuild(raise_errors=True)
            assert model.__pydantic_complete__, name
            built += 1
assert built > 400, built
print("ok", built)
"""

ALREADY_IMPORTED = """
import aiogram
import mluv
from aiogram import types
assert types.Message.__pydantic_complete__, "aiogram imported first is left as it is"
print("ok")
"""


@pytest.mark.parametrize("script", [EVERY_MODEL_BUILDS, ALREADY_IMPORTED], ids=["lazy", "imported-first"])
def test_aiogram_models(script: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("ok")
