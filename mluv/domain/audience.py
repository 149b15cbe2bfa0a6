"""Who an operator's post goes to, and the options an operator writes before its text (pure).

An audience is either learners — all of them, or only those whose interface language is `language`,
and/or only those active within the last `active_days` days (both filters may be combined) — or one
channel the bot posts to (kept in the `channels` table). Blocked and inactive learners never receive
posts. The queries that size and snapshot an audience are mluv.telegram.audiences.

The bot's syntax (/broadcast and /schedule), options first, in any order:

    --lang ru|uk     only learners with that interface language
    --active N       only learners active in the last N days (1–365; "7d" is read as 7 too)
    --channel ID     the channel with that chat id instead of learners
    --html           the text is Telegram HTML (checked before it can be sent)

Phones often turn "--" into a dash ("—"): a dash is read as "--".
"""

from __future__ import annotations

from dataclasses import dataclass

from mluv.domain.post_format import PostError, PostFormat
from mluv.i18n import SUPPORTED_LANGUAGES

MAX_ACTIVE_DAYS = 365
_DASHES = ("--", "—", "–")  # what a phone's "smart punctuation" makes of "--"
_WITH_VALUE = ("lang", "active", "channel")


@dataclass(frozen=True)
class Audience:
    language: str | None = None  # learners whose interface language this is
    active_days: int | None = None  # learners active within this many days
    channel_id: int | None = None  # a channel instead of learners

    def __post_init__(self) -> None:
        if self.language is not None and self.language not in SUPPORTED_LANGUAGES:
            raise PostError("post-option-lang", {"value": self.language})
        if self.active_days is not None and not 1 <= self.active_days <= MAX_ACTIVE_DAYS:
            raise PostError("post-option-active", {"value": str(self.active_days), "limit": MAX_ACTIVE_DAYS})
        if self.channel_id is not None and (self.language is not None or self.active_days is not None):
            raise PostError("post-option-channel-alone")

    @property
    def is_channel(self) -> bool:
        return self.channel_id is not None


EVERYONE = Audience()


@dataclass(frozen=True)
class PostOptions:
    audience: Audience = EVERYONE
    post_format: PostFormat = PostFormat.PLAIN


PLAIN_TO_EVERYONE = PostOptions()


def _option_name(word: str) -> str | None:
    for dash in _DASHES:
        if word.startswith(dash) and len(word) > len(dash):
            return word[len(dash) :].lstrip("-—–").lower()
    return None


def _read_value(option: str, value: str) -> str | int:
    if option == "lang":
        return value.lower()
    number = value.lower().removesuffix("d") if option == "active" else value
    try:
        return int(number)
    except ValueError:
        key = "post-option-active" if option == "active" else "post-option-channel"
        params: dict[str, str | int] = {"value": value}
        if option == "active":
            params["limit"] = MAX_ACTIVE_DAYS
        raise PostError(key, params) from None


def _next_word(text: str) -> tuple[str, str]:
    """(the first word, the rest with its leading whitespace removed)."""
    word = text.split(maxsplit=1)[0]
    return word, text[len(word) :].lstrip()


def split_options(arguments: str) -> tuple[PostOptions, str]:
    """(the options, the rest of the arguments as typed) from a command's arguments; PostError for an
    unknown option or a bad value."""
    rest = arguments.strip()
    values: dict[str, str | int] = {}
    html = False
    while rest and (name := _option_name(rest.split(maxsplit=1)[0])) is not None:
        word, rest = _next_word(rest)
        option, _, value = name.partition("=")
        if option == "html" and not value:
            html = True
            continue
        if option not in _WITH_VALUE:
            raise PostError("post-option-unknown", {"option": word})
        if not value:
            if not rest:
                raise PostError("post-option-missing", {"option": word})
            value, rest = _next_word(rest)
        values[option] = _read_value(option, value)
    audience = Audience(
        language=str(values["lang"]) if "lang" in values else None,
        active_days=int(values["active"]) if "active" in values else None,
        channel_id=int(values["channel"]) if "channel" in values else None,
    )
    return PostOptions(audience, PostFormat.HTML if html else PostFormat.PLAIN), rest
