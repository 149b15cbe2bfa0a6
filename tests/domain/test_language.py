"""Which texts are Czech practice: blank texts, texts all in Cyrillic, questions to the bot, the rest."""

from __future__ import annotations

import pytest

from mluv.domain.language import MessageKind, classify_message, is_blank, is_cyrillic, looks_like_question


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", "blank"),
        ("   ", "blank"),
        ("\n\t\u00a0", "blank"),
        ("\u200b\u2060", "blank"),  # zero-width characters only
        ("Привет, меня зовут Оля.", "cyrillic"),
        ("Я живу в Праге 2 года 🙂", "cyrillic"),
        ("Привіт! Мені 25 років, я з Києва.", "cyrillic"),
        ("Всё хорошо!", "cyrillic"),
        ("ПРИВЕТ", "cyrillic"),
        ("й", "cyrillic"),
        ("и\u0306", "cyrillic"),  # й written with a combining breve
        ("Как это работает?", "question"),
        ("как пользоваться ботом", "question"),
        ("Что ты умеешь", "question"),
        ("Почему ты не отвечаешь", "question"),
        ("Зачем писать по-чешски", "question"),
        ("Можно на русском", "question"),
        ("А можно на русском", "question"),
        ("ну и что дальше", "question"),
        ("Як це працює", "question"),
        ("що ти вмієш", "question"),
        ("Чому ти мовчиш", "question"),
        ("Навіщо це", "question"),
        ("Чи можна писати українською", "question"),
        ("І що тепер", "question"),
        ("Ты бот?", "question"),
        ("ты бот?!", "question"),
        ("Ты бот? 🙂", "question"),
        ("(ты бот?)", "question"),
        ("Ahoj, jak se máš?", "practice"),
        ("Ahoj, как дела?", "practice"),  # mixed: there is Czech in it
        ("Jsem z Kyjeva, я из Киева", "practice"),
        ("Dobrý den", "practice"),
        ("123 🙂", "practice"),  # no letters: not Cyrillic; the review says it has no words
        ("Καλημέρα", "practice"),  # not Cyrillic: the reviewer deals with it
    ],
)
def test_classify_message(text: str, kind: MessageKind) -> None:
    assert classify_message(text) == kind


@pytest.mark.parametrize(
    ("text", "blank", "cyrillic", "question"),
    [
        ("", True, False, False),
        ("?", False, False, True),
        ("Ахой?", False, True, True),
        ("Что? Нет, всё понятно.", False, True, True),  # starts with a question word
        ("Всё понятно. Спасибо", False, True, False),
        ("Kde je nádraží?", False, False, True),  # a question, but Czech: classify_message reviews it
    ],
)
def test_the_parts(text: str, blank: bool, cyrillic: bool, question: bool) -> None:
    assert (is_blank(text), is_cyrillic(text), looks_like_question(text)) == (blank, cyrillic, question)
