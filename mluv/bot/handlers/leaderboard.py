"""/top: the weekly leaderboard (words and messages of the last 7 days), first names only, the asking
learner's line marked and their place shown below the top when outside it; whether they left the board
(/settings) or are not on it yet (the view is refreshed hourly)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from mluv.db.leaderboard import Board, Place, weekly_board
from mluv.db.models import User
from mluv.i18n import t

router = Router(name="leaderboard")


def place_line(lang: str, place: Place, *, own: bool) -> str:
    # The bot sends plain text (no parse_mode), so a name is shown as written, never interpreted.
    name = (place.first_name or "").strip() or t(lang, "top-no-name")
    return t(
        lang,
        "top-line-you" if own else "top-line",
        rank=place.rank,
        name=name,
        words=t(lang, "n-words", count=place.words),
        messages=t(lang, "n-messages", count=place.messages),
    )


def board_text(lang: str, board: Board, user: User) -> str:
    """The board as the learner reads it; `user.on_leaderboard` says whether they left it."""
    if not board.top:
        lines = [t(lang, "top-empty")]
    else:
        lines = [t(lang, "top-title")]
        lines += [place_line(lang, place, own=place.user_id == user.id) for place in board.top]
        if board.own is not None and board.own_outside_top:
            lines += ["…", place_line(lang, board.own, own=True)]
    if not user.on_leaderboard:
        lines += ["", t(lang, "top-hidden")]
    elif board.own is None:
        lines += ["", t(lang, "top-not-yet")]
    return "\n".join(lines)


@router.message(Command("top"))
async def top(message: Message, session: AsyncSession, user: User, lang: str) -> None:
    board = await weekly_board(session, user.id)
    await message.answer(board_text(lang, board, user))
