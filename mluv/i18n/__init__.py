"""Every text the bot shows, in Russian and Ukrainian, with Project Fluent.

The texts live in `locales/<language>/bot.ftl` (one file per language, the same keys and variables in both;
tests/i18n checks). They are plain text: the bot sends them without `parse_mode`, so user text passed as
a variable (a preview, a corrected sentence) needs no escaping. Fluent's Unicode isolation marks are off
(`use_isolating=False`): Telegram would show them as garbage.

    t("uk", "stats", messages=3, words=42, streak=5, longest=9, done=3, goal=5)

- `language` is "ru" or "uk"; anything else (None-like, "en") falls back to "ru" (`DEFAULT_LANGUAGE`).
  `language_of(telegram_language_code)` maps Telegram's `language_code` to one of them.
- Numbers must be passed as `int` (or float): they select the plural form (Russian and Ukrainian have
  one/few/many: 1 сообщение, 2 сообщения, 5 сообщений, 21 сообщение) and are formatted for the locale
  (1 000). Everything else is passed as `str`; `None` becomes "" and a bool "true"/"false". Strings of
  any length work (Fluent itself refuses placeables over 2,500 characters; `t` inserts long ones after
  formatting, so they cannot drive a selector, which needs short keys anyway).
- A key that does not exist at all raises `KeyError`, always: keys are constants in the code, and a typo
  must fail loudly in tests rather than send a learner a key. A key missing only in "uk" (cannot pass the
  tests) falls back to "ru" with a logged warning.
- Formatting errors (a missing or mistyped variable) are logged and the text is returned as Fluent renders
  it (the variable's name in place of its value) in production; with `set_strict(True)` (tests) they
  raise `TextError`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import secrets
from pathlib import Path
from typing import Final

from fluent.runtime import FluentBundle, FluentResource
from fluent.syntax import ast as ftl

from mluv.logs import get_logger

log = get_logger(__name__)

SUPPORTED_LANGUAGES: Final = ("ru", "uk")
DEFAULT_LANGUAGE: Final = "ru"
LOCALES_DIR: Final = Path(__file__).resolve().parent / "locales"
RESOURCE_NAME: Final = "bot.ftl"

# Fluent refuses placeables longer than 2,500 characters (a guard against expansion attacks) and renders
# "{???}" instead. Longer string arguments (a broadcast preview, a corrected text) go in after formatting.
LONG_ARGUMENT: Final = 256

_strict = False


class TextError(ValueError):
    """A text could not be formatted (strict mode only)."""


def set_strict(enabled: bool) -> None:
    """Raise `TextError` on formatting errors instead of logging them (tests turn this on)."""
    global _strict
    _strict = enabled


def resource_path(language: str) -> Path:
    return LOCALES_DIR / language / RESOURCE_NAME


def parse_resource(language: str) -> ftl.Resource:
    """The parsed .ftl file of `language`; raises ValueError if any entry fails to parse."""
    resource = FluentResource(resource_path(language).read_text(encoding="utf-8"))
    junk = [entry for entry in resource.body if isinstance(entry, ftl.Junk)]
    if junk:
        problems = "; ".join(
            f"{annotation.code} {annotation.message} in {(entry.content or '')[:60]!r}"
            for entry in junk
            for annotation in entry.annotations
        )
        raise ValueError(f"{resource_path(language)}: {problems}")
    return resource


@functools.cache
def _bundles() -> dict[str, FluentBundle]:
    bundles: dict[str, FluentBundle] = {}
    for language in SUPPORTED_LANGUAGES:
        bundle = FluentBundle([language], use_isolating=False)
        bundle.add_resource(parse_resource(language))
        bundles[language] = bundle
    return bundles


def message_ids(language: str = DEFAULT_LANGUAGE) -> list[str]:
    """The ids of the messages (not terms) of `language`'s file, in file order."""
    return [entry.id.name for entry in parse_resource(language).body if isinstance(entry, ftl.Message)]


def has_text(key: str, language: str = DEFAULT_LANGUAGE) -> bool:
    return _bundles()[normalise_language(language)].has_message(key)


def normalise_language(language: str | None) -> str:
    """`language` if supported, else "ru"."""
    return language if language in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


def language_of(telegram_language_code: str | None) -> str:
    """Telegram's `User.language_code` (an IETF tag) → "uk" for Ukrainian, "ru" for everything else."""
    if not telegram_language_code:
        return DEFAULT_LANGUAGE
    primary = telegram_language_code.strip().replace("_", "-").split("-", 1)[0].lower()
    return "uk" if primary == "uk" else DEFAULT_LANGUAGE


def _fluent_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float | decimal.Decimal | dt.date):
        return value
    return str(value)


def t(language: str, key: str, /, **args: object) -> str:
    """The text `key` in `language` with `args` filled in (see the module docstring)."""
    bundles = _bundles()
    lang = normalise_language(language)
    bundle = bundles[lang]
    if not bundle.has_message(key):
        if lang == DEFAULT_LANGUAGE or not bundles[DEFAULT_LANGUAGE].has_message(key):
            raise KeyError(f"unknown text key {key!r}")
        log.warning("text missing, using the default language", key=key, language=lang)
        lang, bundle = DEFAULT_LANGUAGE, bundles[DEFAULT_LANGUAGE]
    message = bundle.get_message(key)
    if message.value is None:
        raise KeyError(f"text {key!r} has no value")
    fluent_args: dict[str, object] = {}
    long_values: dict[str, str] = {}
    for name, value in args.items():
        converted = _fluent_value(value)
        if isinstance(converted, str) and len(converted) > LONG_ARGUMENT:
            marker = f"\ue000{secrets.token_hex(6)}\ue001"
            long_values[marker] = converted
            converted = marker
        fluent_args[name] = converted
    text, errors = bundle.format_pattern(message.value, fluent_args)
    if errors:
        if _strict:
            raise TextError(f"{lang}/{key}: " + "; ".join(repr(error) for error in errors))
        log.warning("text formatted with errors", key=key, language=lang, errors=[repr(e) for e in errors])
    result = str(text)
    for marker, value in long_values.items():
        result = result.replace(marker, value)
    return result
