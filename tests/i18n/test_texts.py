"""The ru/uk texts: the same keys and variables in both, every text renders, plural forms, the API."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fluent.syntax import ast as ftl
from fluent.syntax.visitor import Visitor

from mluv import i18n
from mluv.i18n import SUPPORTED_LANGUAGES, TextError, language_of, t

# Keys the bot, the jobs and the admin commands rely on.
REQUIRED_KEYS = {
    "start-welcome",
    "start-choose-language",
    "start-choose-level",
    "level-beginner",
    "level-intermediate",
    "level-advanced",
    "start-done",
    "feedback-empty",
    "feedback-perfect",
    "feedback-header",
    "feedback-diacritics",
    "feedback-diacritics-item",
    "feedback-corrections",
    "feedback-correction-item",
    "feedback-correction-item-explained",
    "feedback-unknown-words",
    "feedback-more",
    "feedback-corrected-text",
    "feedback-comment",
    "stats",
    "challenge-completed",
    "report-queued",
    "settings-menu",
    "settings-reminders-on",
    "settings-reminders-off",
    "settings-hour-prompt",
    "settings-hour-set",
    "settings-hour-invalid",
    "settings-timezone-prompt",
    "settings-timezone-set",
    "settings-timezone-invalid",
    "settings-language-prompt",
    "settings-language-set",
    "help",
    "admin-only",
    "broadcast-usage",
    "broadcast-confirm",
    "broadcast-confirmed",
    "broadcast-cancelled",
    "schedule-usage",
    "schedule-done",
    "jobs-summary",
    "unknown-command",
    "unsupported-sticker",
    "unsupported-photo",
    "unsupported-voice",
    "unsupported-other",
    "text-too-long",
    "too-many-messages",
    "error-generic",
    "streak-reminder",
    "daily-reminder",
    "daily-challenge-nudge",
    "streak-milestone",
    "btn-reminders-on",
    "btn-reminders-off",
    "btn-hour",
    "btn-timezone",
    "btn-language",
    "btn-language-ru",
    "btn-language-uk",
    "btn-confirm",
    "btn-cancel",
    "n-messages",
    "n-words",
    "n-days",
    "n-stars",
}

# A sample value for every variable any text uses (a new variable needs one here).
SAMPLES: dict[str, Any] = {
    "attribute": "style",
    "audience": "все учащиеся",
    "comment": "Молодец!",
    "correctness": 87,
    "count": 3,
    "days": 30,
    "done": 3,
    "entity": "&nbsp;",
    "example": "2026-12-25 09:00",
    "expected": "b",
    "explanation": "Нужен háček.",
    "format": "HTML",
    "found": "i",
    "failed": 0,
    "goal": 5,
    "hour": 8,
    "id": "12",
    "items": "• dekuji → děkuji",
    "language": "uk",
    "leaderboard": "off",
    "left": 2,
    "level": "intermediate",
    "limit": 4096,
    "longest": 12,
    "messages": 5,
    "name": "Olga",
    "option": "--foo",
    "original": "dekuji",
    "preview": "Ahoj všichni! Zítra je svátek.",
    "queued": 3,
    "rank": 3,
    "rate": "500",
    "reminders": "on",
    "running": 1,
    "scheduled": 4,
    "seconds": 5,
    "stars": 10,
    "streak": 7,
    "suggestion": "děkuji",
    "tag": "marquee",
    "text": "Děkuji za pomoc.",
    "time": "2026-12-01 09:00",
    "timezone": "Europe/Prague",
    "title": "Mluv novinky",
    "value": "en",
    "words": 42,
}


@pytest.fixture(autouse=True)
def strict_texts() -> Iterator[None]:
    i18n.set_strict(True)
    yield
    i18n.set_strict(False)


class _Variables(Visitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_VariableReference(self, node: ftl.VariableReference) -> None:
        self.names.add(node.id.name)


class _Selectors(Visitor):
    def __init__(self) -> None:
        self.keys: list[set[str]] = []

    def visit_SelectExpression(self, node: ftl.SelectExpression) -> None:
        self.keys.append(
            {str(v.key.name if isinstance(v.key, ftl.Identifier) else v.key.value) for v in node.variants}
        )
        self.generic_visit(node)


@functools.cache
def messages(language: str) -> dict[str, ftl.Message]:
    return {
        entry.id.name: entry for entry in i18n.parse_resource(language).body if isinstance(entry, ftl.Message)
    }


def variables(message: ftl.Message) -> set[str]:
    visitor = _Variables()
    visitor.visit(message)
    return visitor.names


ALL_KEYS = sorted(messages("ru"))


def test_both_languages_have_the_same_keys_in_the_same_order() -> None:
    assert i18n.message_ids("ru") == i18n.message_ids("uk")
    assert len(set(i18n.message_ids("ru"))) == len(i18n.message_ids("ru"))  # no duplicates


def test_required_keys_are_present() -> None:
    for language in SUPPORTED_LANGUAGES:
        assert REQUIRED_KEYS - set(messages(language)) == set(), language


@pytest.mark.parametrize("key", ALL_KEYS)
def test_the_same_variables_in_both_languages(key: str) -> None:
    ru, uk = messages("ru")[key], messages("uk")[key]
    assert variables(ru) == variables(uk)
    assert variables(ru) <= set(SAMPLES), "add a sample value for the new variable"
    assert not ru.attributes and not uk.attributes  # t() renders values only


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
@pytest.mark.parametrize("key", ALL_KEYS)
def test_every_text_renders(language: str, key: str) -> None:
    args = {name: SAMPLES[name] for name in variables(messages(language)[key])}
    text = t(language, key, **args)
    assert text.strip() == text and text
    assert "\u2068" not in text and "\u2069" not in text  # no Unicode isolation marks
    assert "{" not in text and "}" not in text
    assert not re.search(r"</?[a-z]+>", text)  # plain text, no HTML markup


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_plural_selectors_cover_one_few_many(language: str) -> None:
    visitor = _Selectors()
    visitor.visit(i18n.parse_resource(language))
    plural = [keys for keys in visitor.keys if keys & {"one", "few", "many"}]
    assert plural
    for keys in plural:
        assert keys == {"one", "few", "many"}


PLURALS = {
    ("ru", "n-messages"): [
        "сообщение",
        "сообщения",
        "сообщений",
        "сообщений",
        "сообщение",
        "сообщения",
        "сообщений",
    ],
    ("uk", "n-messages"): [
        "повідомлення",
        "повідомлення",
        "повідомлень",
        "повідомлень",
        "повідомлення",
        "повідомлення",
        "повідомлень",
    ],
    ("ru", "n-words"): ["слово", "слова", "слов", "слов", "слово", "слова", "слов"],
    ("uk", "n-words"): ["слово", "слова", "слів", "слів", "слово", "слова", "слів"],
    ("ru", "n-days"): ["день", "дня", "дней", "дней", "день", "дня", "дней"],
    ("uk", "n-days"): ["день", "дні", "днів", "днів", "день", "дні", "днів"],
    ("ru", "n-stars"): ["звезда", "звезды", "звёзд", "звёзд", "звезда", "звезды", "звёзд"],
    ("uk", "n-stars"): ["зірка", "зірки", "зірок", "зірок", "зірка", "зірки", "зірок"],
}
NUMBERS = (1, 2, 5, 11, 21, 22, 25)


@pytest.mark.parametrize(
    ("language", "key", "number", "expected"),
    [
        (language, key, number, f"{number} {form}")
        for (language, key), forms in PLURALS.items()
        for number, form in zip(NUMBERS, forms, strict=True)
    ],
)
def test_plural_forms(language: str, key: str, number: int, expected: str) -> None:
    assert t(language, key, count=number) == expected


@pytest.mark.parametrize(
    ("language", "messages_", "expected"),
    [
        ("ru", 1, "📊 Сегодня: 1 сообщение, 1 слово"),
        ("ru", 22, "📊 Сегодня: 22 сообщения, 22 слова"),
        ("ru", 11, "📊 Сегодня: 11 сообщений, 11 слов"),
        ("uk", 21, "📊 Сьогодні: 21 повідомлення, 21 слово"),
        ("uk", 25, "📊 Сьогодні: 25 повідомлень, 25 слів"),
    ],
)
def test_plurals_inside_a_text(language: str, messages_: int, expected: str) -> None:
    text = t(language, "stats", messages=messages_, words=messages_, streak=2, longest=5, done=3, goal=5)
    assert text.splitlines()[0] == expected


def test_stats_in_full() -> None:
    assert t("ru", "stats", messages=3, words=42, streak=5, longest=21, done=3, goal=5) == (
        "📊 Сегодня: 3 сообщения, 42 слова\n🔥 Серия: 5 дней подряд, рекорд: 21 день\n"
        "🎯 Задание дня: 3/5 сообщений"
    )
    assert t("uk", "stats", messages=3, words=42, streak=5, longest=21, done=3, goal=5) == (
        "📊 Сьогодні: 3 повідомлення, 42 слова\n🔥 Серія: 5 днів поспіль, рекорд: 21 день\n"
        "🎯 Завдання дня: 3/5 повідомлень"
    )


@pytest.mark.parametrize(
    ("language", "level", "word"),
    [
        ("ru", "beginner", "начальный"),
        ("ru", "intermediate", "средний"),
        ("ru", "advanced", "продвинутый"),
        ("uk", "beginner", "початковий"),
        ("uk", "intermediate", "середній"),
        ("uk", "advanced", "просунутий"),
    ],
)
def test_start_done_names_the_level(language: str, level: str, word: str) -> None:
    assert f": {word}." in t(language, "start-done", level=level)


def test_settings_menu_selects_and_pads_the_hour() -> None:
    kyiv = "Europe/Kyiv"
    menu = t("ru", "settings-menu", reminders="off", leaderboard="on", hour=7, timezone=kyiv, language="uk")
    assert "выключены" in menu and "07:00" in menu and "Europe/Kyiv" in menu and "українська" in menu
    assert "/top: показано" in menu
    menu = t("uk", "settings-menu", reminders="on", leaderboard="off", hour=19, timezone="UTC", language="ru")
    assert "увімкнені" in menu and "19:00" in menu and "русский" in menu and "/top: приховано" in menu


def test_ukrainian_texts_have_no_russian_letters_and_vice_versa() -> None:
    for key in ALL_KEYS:
        args = {name: SAMPLES[name] for name in variables(messages("ru")[key])}
        uk = t("uk", key, **args).replace("Русский", "").replace("русский", "")
        ru = t("ru", key, **args).replace("Українська", "").replace("українська", "")
        assert not re.search("[ыэъёЫЭЪЁ]", uk), (key, uk)
        assert not re.search("[іїєґІЇЄҐ]", ru), (key, ru)


def test_numbers_are_formatted_for_the_locale() -> None:
    assert t("ru", "n-messages", count=1000) == "1\u00a0000 сообщений"


def test_long_arguments_are_inserted_whole() -> None:
    preview = "Ahoj! " * 700  # Fluent alone refuses placeables over 2,500 characters
    text = t("ru", "broadcast-confirm", preview=preview.strip(), count=12, format="HTML", audience="все")
    assert preview.strip() in text
    assert text.endswith("Получателей сейчас: 12. Отправить?")


def test_user_text_is_inserted_verbatim() -> None:
    assert t("uk", "feedback-comment", comment="<b>{$count}</b> & co") == "💬 <b>{$count}</b> & co"


@pytest.mark.parametrize("language", ["en", "cs", "", "RU", "uk-UA"])
def test_unsupported_languages_fall_back_to_russian(language: str) -> None:
    assert t(language, "help") == t("ru", "help")


def test_an_unknown_key_raises() -> None:
    with pytest.raises(KeyError, match="no-such-text"):
        t("ru", "no-such-text")
    i18n.set_strict(False)
    with pytest.raises(KeyError):
        t("uk", "no-such-text")


def test_formatting_errors_raise_in_strict_mode_and_are_tolerated_otherwise() -> None:
    with pytest.raises(TextError, match="count"):
        t("ru", "n-messages")
    i18n.set_strict(False)
    assert t("ru", "n-messages") == "count сообщений"


def test_argument_types() -> None:
    assert t("ru", "settings-timezone-set", timezone=None) == "🌍 Часовой пояс: ."
    assert t("ru", "schedule-error-unreadable", value=True) == "не понимаю время «true»."
    assert t("ru", "schedule-error-unreadable", value=object) == "не понимаю время «<class 'object'>»."


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("uk", "uk"),
        ("UK", "uk"),
        ("uk-UA", "uk"),
        ("uk_UA", "uk"),
        ("ru", "ru"),
        ("ru-RU", "ru"),
        ("en", "ru"),
        ("cs", "ru"),
        ("be", "ru"),
        ("", "ru"),
        (None, "ru"),
        ("ukr", "ru"),
    ],
)
def test_language_of(code: str | None, language: str) -> None:
    assert language_of(code) == language


def test_supported_languages() -> None:
    assert SUPPORTED_LANGUAGES == ("ru", "uk")
    for language in SUPPORTED_LANGUAGES:
        assert i18n.resource_path(language).is_file()
        assert i18n.has_text("help", language)
