"""Filters shared by routers."""

from __future__ import annotations

from typing import Any

from aiogram.filters import BaseFilter
from aiogram.types import TelegramObject

from mluv.settings import Settings


class IsAdmin(BaseFilter):
    """The update comes from an operator (ADMIN_IDS)."""

    async def __call__(self, event: TelegramObject, settings: Settings, **data: Any) -> bool:
        user = data.get("event_from_user")
        return user is not None and user.id in settings.admin_ids
