"""The feedback message: composed from a Review with the ru/uk texts, plain text, within Telegram's limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mluv import i18n
from mluv.domain.feedback import MAX_ITEMS, format_feedback
from mluv.domain.review import Correction, Review, review_offline
from mluv.domain.telegram_text import TELEGRAM_TEXT_LIMIT, shorten, utf16_length

LANGUAGES = ("ru", "uk")


@pytest.fixture(autouse=True)
def strict_texts() -> Iterator[None]:
    i18n.set_strict(True)
    yield
    i18n.set_strict(False)


def online_review(corrections: list[Correction], *, text: str = "Včera jsem byla v kině.") -> Review:
    return Review(
        word_count=5,
        correctness=60,
        corrections=corrections,
        corrected_text=text,
        reviewer="openai",
        comment="Хорошая попытка!",
    )


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ru", "🎉 Отлично! 4 слова и ни одной ошибки. Так держать!"),
        ("uk", "🎉 Чудово! 4 слова і жодної помилки. Так тримати!"),
    ],
)
def test_perfect_text(language: str, expected: str) -> None:
    assert format_feedback(review_offline("Dobrý den, jak je?"), language) == expected


@pytest.mark.parametrize("language", LANGUAGES)
def test_text_without_words(language: str) -> None:
    feedback = format_feedback(review_offline("123 🙂"), language)
    assert feedback == i18n.t(language, "feedback-empty")


def test_offline_review_in_russian() -> None:
    feedback = format_feedback(review_offline("Ja nevim, co mam delat. xqzvbn!"), "ru")
    assert feedback == (
        "📝 Правильность: 16% (6 слов)\n"
        "\n"
        "✏️ Диакритика (4 исправления):\n"
        "• Ja → Já\n"
        "• nevim → nevím\n"
        "• mam → mám\n"
        "• delat → dělat\n"
        "\n"
        "❓ Это слово я не знаю, проверь написание: xqzvbn\n"
        "\n"
        "✅ Исправленный текст:\n"
        "Já nevím, co mám dělat. xqzvbn!"
    )


def test_offline_review_in_ukrainian() -> None:
    feedback = format_feedback(review_offline("Dobry den, xqzvbn a blorfik."), "uk")
    assert feedback == (
        "📝 Правильність: 40% (5 слів)\n"
        "\n"
        "✏️ Діакритика (1 виправлення):\n"
        "• Dobry → Dobrý\n"
        "\n"
        "❓ Цих слів я не знаю, перевір написання: xqzvbn, blorfik\n"
        "\n"
        "✅ Виправлений текст:\n"
        "Dobrý den, xqzvbn a blorfik."
    )


def test_only_unknown_words_shows_no_corrected_text() -> None:
    feedback = format_feedback(review_offline("Mám rád xqzvbn."), "ru")
    assert "xqzvbn" in feedback
    assert i18n.t("ru", "feedback-corrected-text", text="").strip() not in feedback


def test_online_review_with_explanations_and_comment() -> None:
    review = online_review(
        [
            Correction(original="byl", suggestion="byla", kind="grammar", explanation="Женский род: byla."),
            Correction(original="kine", suggestion="kině", kind="diacritics"),
            Correction(original="to", suggestion="ten", kind="vocabulary"),
        ]
    )
    feedback = format_feedback(review, "ru")
    assert feedback == (
        "📝 Правильность: 60% (5 слов)\n"
        "\n"
        "✏️ Диакритика (1 исправление):\n"
        "• kine → kině\n"
        "\n"
        "🔧 2 исправления:\n"
        "• byl → byla: Женский род: byla.\n"
        "• to → ten\n"
        "\n"
        "💬 Хорошая попытка!\n"
        "\n"
        "✅ Исправленный текст:\n"
        "Včera jsem byla v kině."
    )


def test_repeated_corrections_are_listed_once() -> None:
    feedback = format_feedback(review_offline("dekuji dekuji Dekuji"), "ru")
    assert feedback.count("• dekuji → děkuji") == 1
    assert feedback.count("• Dekuji → Děkuji") == 1
    assert "(2 исправления)" in feedback


@pytest.mark.parametrize(("language", "more"), [("ru", "…и ещё 5"), ("uk", "…і ще 5")])
def test_long_lists_are_cut_with_a_count_of_the_rest(language: str, more: str) -> None:
    corrections = [
        Correction(original=f"slovo{i}", suggestion=f"slovo{i}x", kind="spelling")
        for i in range(MAX_ITEMS + 5)
    ]
    feedback = format_feedback(online_review(corrections), language)
    assert feedback.count("• slovo") == MAX_ITEMS
    assert more in feedback


def test_many_unknown_words_are_cut() -> None:
    words = [f"xq{chr(ord('a') + i)}zv" for i in range(20)]
    review = review_offline(" ".join(words))
    feedback = format_feedback(review, "ru")
    assert "xqazv" in feedback and "xqozv" in feedback
    assert "xqtzv" not in feedback
    assert "…и ещё 5" in feedback


@pytest.mark.parametrize("language", LANGUAGES)
def test_huge_reviews_fit_one_telegram_message(language: str) -> None:
    long = "Dekuji 🙂 " * 500 + "xqzvbn " * 300
    review = review_offline(long)
    feedback = format_feedback(review, language)
    assert utf16_length(feedback) <= TELEGRAM_TEXT_LIMIT
    assert feedback.endswith("…")

    corrections = [
        Correction(original="š" * 900, suggestion="ž" * 900, kind="grammar", explanation="🙂" * 3000)
        for _ in range(50)
    ]
    feedback = format_feedback(online_review(corrections, text="🙂" * 5000), language)
    assert utf16_length(feedback) <= TELEGRAM_TEXT_LIMIT


def test_user_text_is_kept_verbatim_as_plain_text() -> None:
    review = online_review(
        [Correction(original="<b>byl</b>", suggestion="<i>byla</i> & co", kind="grammar")],
        text="<b>Včera</b> jsem byla & <script>",
    )
    feedback = format_feedback(review, "uk")
    assert "• <b>byl</b> → <i>byla</i> & co" in feedback
    assert feedback.endswith("<b>Včera</b> jsem byla & <script>")


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_unicode_isolation_marks(language: str) -> None:
    feedback = format_feedback(review_offline("Dobry den, xqzvbn"), language)
    assert "\u2068" not in feedback and "\u2069" not in feedback


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("ahoj", 10, "ahoj"),
        ("ahoj svete", 6, "ahoj…"),
        ("🙂🙂🙂", 4, "🙂…"),  # an emoji is two UTF-16 units and is never split
        ("🙂🙂🙂", 6, "🙂🙂🙂"),
        ("abc", 0, ""),
    ],
)
def test_shorten(text: str, limit: int, expected: str) -> None:
    assert shorten(text, limit) == expected
    assert utf16_length(shorten(text, limit)) <= limit
