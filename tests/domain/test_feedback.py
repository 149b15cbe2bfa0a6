"""The feedback message: says what was checked, praises only what a grammar check found clean, explains an
offline rule's correction as much as the learner's level asks, plain text within Telegram's limit."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import get_args

import pytest

from mluv import i18n
from mluv.domain.feedback import MAX_ITEMS, format_feedback
from mluv.domain.review import Check, Correction, Level, Review, review_offline
from mluv.domain.telegram_text import TELEGRAM_TEXT_LIMIT, shorten, utf16_length

LANGUAGES = ("ru", "uk")
LEVELS: tuple[Level, ...] = ("beginner", "intermediate", "advanced")
OFFLINE: list[Check] = ["diacritics", "spelling", "grammar_rules"]
ONLINE: list[Check] = ["diacritics", "spelling", "grammar_rules", "grammar"]
NO_MISTAKES = {"ru": "ни одной ошибки", "uk": "жодної помилки"}


@pytest.fixture(autouse=True)
def strict_texts() -> Iterator[None]:
    i18n.set_strict(True)
    yield
    i18n.set_strict(False)


def review(
    corrections: list[Correction] | None = None,
    *,
    checks: list[Check] | None = None,
    reviewer: str = "offline",
    text: str = "Chci jít do kina.",
    words: int = 4,
    comment: str | None = None,
) -> Review:
    corrections = corrections or []
    return Review(
        word_count=words,
        correctness=100 if not corrections else 75,
        corrections=corrections,
        unknown_words=[c.original for c in corrections if c.kind == "unknown"],
        corrected_text=text,
        reviewer="openai" if reviewer == "openai" else "offline",
        comment=comment,
        checks=OFFLINE if checks is None else checks,
    )


def rule(
    rule_id: str, original: str, suggestion: str | None, explanation: str | None = None, **params: str
) -> Correction:
    kind = "diacritics" if rule_id == "diacritics" else "spelling" if rule_id == "spelling" else "grammar"
    return Correction.model_validate(
        {
            "original": original,
            "suggestion": suggestion,
            "kind": kind,
            "rule": rule_id,
            "params": params,
            "explanation": explanation,
        }
    )


KINO = rule("preposition-case", "kino", "kina", preposition="do", case="genitive")


# ---------------------------------------------------------------------------------------------------
# What was checked, and who may say "no mistakes"


@pytest.mark.parametrize(
    ("checks", "language", "expected"),
    [
        (
            OFFLINE,
            "ru",
            "✅ Правописание и диакритика в порядке; проверенные правила грамматики ошибок не нашли.\n\n"
            "🔍 Проверил диакритику, правописание и правила грамматики: падеж после предлога, dva/dvě и "
            "oba/obě, род прилагательного после je, формы být. Другие ошибки я пока не ищу.",
        ),
        (
            OFFLINE,
            "uk",
            "✅ Правопис і діакритика в порядку; перевірені правила граматики помилок не знайшли.\n\n"
            "🔍 Перевірив діакритику, правопис і правила граматики: відмінок після прийменника, dva/dvě та "
            "oba/obě, рід прикметника після je, форми být. Інших помилок я поки не шукаю.",
        ),
        (
            ONLINE,
            "ru",
            "🎉 Отлично! 4 слова и ни одной ошибки. Так держать!\n\n"
            "🔍 Проверил диакритику, правописание и грамматику.",
        ),
        (
            ONLINE,
            "uk",
            "🎉 Чудово! 4 слова і жодної помилки. Так тримати!\n\n"
            "🔍 Перевірив діакритику, правопис і граматику.",
        ),
        (
            ["diacritics", "spelling"],
            "ru",
            "✅ Правописание и диакритика в порядке.\n\n"
            "🔍 Проверил диакритику и правописание, грамматику не проверял.",
        ),
        (  # a review stored before `checks` existed
            [],
            "uk",
            "✅ Помилок у діакритиці не знайшов.\n\n"
            "🔍 Перевірив діакритику і чи знайомі мені слова, граматику не перевіряв.",
        ),
    ],
    ids=["offline-ru", "offline-uk", "grammar-ru", "grammar-uk", "spelling-ru", "legacy-uk"],
)
def test_a_text_without_corrections_is_praised_only_as_far_as_it_was_checked(
    checks: list[Check], language: str, expected: str
) -> None:
    for level in LEVELS:
        assert format_feedback(review(checks=checks), language, level=level) == expected


# Every set of checks, with the last line it must end with: the strongest check names it.
CHECK_SETS = [
    (list(checks), "grammar" if "grammar" in checks else "rules" if "grammar_rules" in checks else
     "spelling" if "spelling" in checks else "diacritics")
    for size in range(len(get_args(Check)) + 1)
    for checks in itertools.combinations(get_args(Check), size)
]  # fmt: skip


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("checks", "checked"), CHECK_SETS, ids=lambda v: "+".join(v) or "none" if isinstance(v, list) else v
)
@pytest.mark.parametrize("corrections", [[], [KINO]], ids=["clean", "corrected"])
def test_only_a_grammar_check_says_no_mistakes_and_every_answer_says_what_was_checked(
    language: str, checks: list[Check], checked: str, corrections: list[Correction]
) -> None:
    feedback = format_feedback(review(corrections, checks=checks), language)
    assert (NO_MISTAKES[language] in feedback) == ("grammar" in checks and not corrections)
    assert feedback.endswith(f"\n\n{i18n.t(language, f'feedback-checked-{checked}')}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_text_without_words(language: str) -> None:
    feedback = format_feedback(review_offline("123 🙂"), language)
    assert feedback == i18n.t(language, "feedback-empty")


# ---------------------------------------------------------------------------------------------------
# An offline rule's correction, explained by level


@pytest.mark.parametrize(
    ("correction", "language", "level", "line"),
    [
        (
            KINO,
            "ru",
            "beginner",
            "• kino → kina: после «do» нужен родительный падеж (2. pád, кого? чего?): do kina",
        ),
        (
            KINO,
            "uk",
            "beginner",
            "• kino → kina: після «do» потрібен родовий відмінок (2. pád, кого? чого?): do kina",
        ),
        (KINO, "ru", "intermediate", "• kino → kina: do + 2. pád"),
        (KINO, "uk", "advanced", "• kino → kina"),
        (
            rule("preposition-case", "doktor", "doktorovi", preposition="k", case="dative"),
            "ru",
            "beginner",
            "• doktor → doktorovi: после «k» нужен дательный падеж (3. pád, кому? чему?): k doktorovi",
        ),
        (
            rule("preposition-case", "Praha", "Praze", preposition="v", case="locative"),
            "uk",
            "intermediate",
            "• Praha → Praze: v + 6. pád",
        ),
        (
            rule("numeral-agreement", "dva", "dvě", numeral="dva", gender="feminine"),
            "ru",
            "beginner",
            "• dva → dvě: dvě и obě — с существительными женского и среднего рода, dva и oba — только с "
            "мужским; здесь женский род: dvě",
        ),
        (
            rule("numeral-agreement", "dvě", "dva", numeral="dvě", gender="masculine"),
            "uk",
            "intermediate",
            "• dvě → dva: чоловічий рід: dva/oba",
        ),
        (  # the noun after five and more: the example names the numeral
            rule("numeral-agreement", "sestry", "sester", numeral="pět", gender="feminine"),
            "ru",
            "beginner",
            "• sestry → sester: после «pět» и больших чисел существительное стоит в родительном падеже "
            "множественного числа: pět sester",
        ),
        (
            rule("adjective-agreement", "velký", "velká", noun="sestra", gender="feminine"),
            "ru",
            "beginner",
            "• velký → velká: «sestra» — женского рода, поэтому прилагательное после je тоже в женском роде "
            "(-á): sestra je velká",
        ),
        (
            rule("adjective-agreement", "krásný", "krásné", noun="město", gender="neuter"),
            "uk",
            "intermediate",
            "• krásný → krásné: «město» — середній рід",
        ),
        (
            rule("byt-form", "je", "jsem", pronoun="já"),
            "uk",
            "beginner",
            "• je → jsem: být змінюється за особами: já jsem, ty jsi, on/ona/ono je, my jsme, vy jste, "
            "oni jsou; тут: já jsem",
        ),
        (
            rule("byt-form", "jsou", "jsme", pronoun="my"),
            "ru",
            "intermediate",
            "• jsou → jsme: форма být для «my»",
        ),
        (
            rule("spelling", "studnet", "student"),
            "ru",
            "beginner",
            "• studnet → student: такого слова нет в словаре; похоже, имелось в виду «student»",
        ),
        (
            rule("capitalisation", "praha", "Praha"),
            "uk",
            "beginner",
            "• praha → Praha: імена, міста, країни й національності пишуться з великої літери (Praha, Petr, "
            "Čech, Ukrajinka): Praha",
        ),
        (rule("capitalisation", "petr", "Petr"), "ru", "intermediate", "• petr → Petr: с большой буквы"),
        (  # a correction that covers the word setting the rule is its own example
            rule("numeral-agreement", "dva sestry", "dvě sestry", numeral="dva", gender="feminine"),
            "uk",
            "beginner",
            "• dva sestry → dvě sestry: dvě та obě — з іменниками жіночого й середнього роду, dva та oba — "
            "лише з чоловічим; тут жіночий рід: dvě sestry",
        ),
        (
            rule("preposition-case", "do kino", "do kina", preposition="do", case="genitive"),
            "ru",
            "beginner",
            "• do kino → do kina: после «do» нужен родительный падеж (2. pád, кого? чего?): do kina",
        ),
        (
            rule("byt-form", "Já je", "Já jsem", pronoun="já"),
            "ru",
            "beginner",
            "• Já je → Já jsem: být меняется по лицам: já jsem, ty jsi, on/ona/ono je, my jsme, vy jste, "
            "oni jsou; здесь: Já jsem",
        ),
        (  # no suggestion: no example to show, so the short hint
            rule("preposition-case", "kino", None, preposition="do", case="genitive"),
            "ru",
            "beginner",
            "• kino → —: do + 2. pád",
        ),
        (  # params the texts cannot use: the correction's own explanation
            rule("preposition-case", "kino", "kina", "Нужен 2. pád.", preposition="do", case="vocative"),
            "ru",
            "beginner",
            "• kino → kina: Нужен 2. pád.",
        ),
        (  # merged with the model's explanation: the rule's own text, by level
            rule("preposition-case", "kino", "kina", "Model says so.", preposition="do", case="genitive"),
            "ru",
            "intermediate",
            "• kino → kina: do + 2. pád",
        ),
        (  # the online reviewer's correction keeps its explanation at every level
            Correction(original="byl", suggestion="byla", kind="grammar", explanation="Женский род: byla."),
            "ru",
            "advanced",
            "• byl → byla: Женский род: byla.",
        ),
    ],
)
def test_a_rule_correction_is_explained_as_much_as_the_level_asks(
    correction: Correction, language: str, level: Level, line: str
) -> None:
    feedback = format_feedback(review([correction]), language, level=level)
    assert line in feedback.split("\n")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("level", LEVELS)
def test_the_diacritics_note_is_for_beginners(language: str, level: Level) -> None:
    feedback = format_feedback(review([rule("diacritics", "jit", "jít")]), language, level=level)
    assert (i18n.t(language, "feedback-diacritics-note") in feedback) == (level == "beginner")


def test_the_level_defaults_to_beginner() -> None:
    assert format_feedback(review([KINO]), "ru") == format_feedback(review([KINO]), "ru", level="beginner")


def test_an_offline_review_in_russian_for_a_beginner() -> None:
    corrections = [
        rule("diacritics", "jit", "jít"),
        KINO,
        Correction(original="xqzvbn", suggestion=None, kind="unknown"),
    ]
    feedback = format_feedback(review(corrections, text="Chci jít do kina xqzvbn.", words=5), "ru")
    assert feedback == (
        "📝 Правильность: 75% (5 слов)\n"
        "\n"
        "✏️ Диакритика (1 исправление):\n"
        "• jit → jít\n"
        "Háček и čárka — часть буквы: e и ě, a и á — разные буквы, без них слово читается иначе или значит "
        "другое.\n"
        "\n"
        "🔧 1 исправление:\n"
        "• kino → kina: после «do» нужен родительный падеж (2. pád, кого? чего?): do kina\n"
        "\n"
        "❓ Это слово я не знаю, проверь написание: xqzvbn\n"
        "\n"
        "✅ Исправленный текст:\n"
        "Chci jít do kina xqzvbn.\n"
        "\n"
        "🔍 Проверил диакритику, правописание и правила грамматики: падеж после предлога, dva/dvě и oba/obě, "
        "род прилагательного после je, формы být. Другие ошибки я пока не ищу."
    )


def test_an_online_review_in_ukrainian_for_an_advanced_learner() -> None:
    corrections = [
        Correction(original="byl", suggestion="byla", kind="grammar", explanation="Жіночий рід: byla."),
        Correction(original="kine", suggestion="kině", kind="diacritics"),
        rule("preposition-case", "kino", "kina", "Родовий.", preposition="do", case="genitive"),
    ]
    online = review(
        corrections, checks=ONLINE, reviewer="openai", text="Byla jsem v kině.", comment="Молодець!"
    )
    assert format_feedback(online, "uk", level="advanced") == (
        "📝 Правильність: 75% (4 слова)\n"
        "\n"
        "✏️ Діакритика (1 виправлення):\n"
        "• kine → kině\n"
        "\n"
        "🔧 2 виправлення:\n"
        "• byl → byla: Жіночий рід: byla.\n"
        "• kino → kina\n"
        "\n"
        "💬 Молодець!\n"
        "\n"
        "✅ Виправлений текст:\n"
        "Byla jsem v kině.\n"
        "\n"
        "🔍 Перевірив діакритику, правопис і граматику."
    )


# ---------------------------------------------------------------------------------------------------
# Lists, limits, plain text


def test_repeated_corrections_are_listed_once() -> None:
    corrections = [
        rule("diacritics", word, suggestion)
        for word, suggestion in [("dekuji", "děkuji"), ("dekuji", "děkuji"), ("Dekuji", "Děkuji")]
    ]
    feedback = format_feedback(review(corrections), "ru")
    assert feedback.count("• dekuji → děkuji") == 1
    assert feedback.count("• Dekuji → Děkuji") == 1
    assert "(2 исправления)" in feedback


@pytest.mark.parametrize(("language", "more"), [("ru", "…и ещё 5"), ("uk", "…і ще 5")])
def test_long_lists_are_cut_with_a_count_of_the_rest(language: str, more: str) -> None:
    corrections = [
        Correction(original=f"slovo{i}", suggestion=f"slovo{i}x", kind="spelling")
        for i in range(MAX_ITEMS + 5)
    ]
    feedback = format_feedback(review(corrections), language)
    assert feedback.count("• slovo") == MAX_ITEMS
    assert more in feedback


def test_many_unknown_words_are_cut() -> None:
    words = [f"xq{chr(ord('a') + i)}zv" for i in range(20)]
    corrections = [Correction(original=word, suggestion=None, kind="unknown") for word in words]
    feedback = format_feedback(review(corrections), "ru")
    assert "xqazv" in feedback and "xqozv" in feedback
    assert "xqtzv" not in feedback
    assert "…и ещё 5" in feedback


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("level", LEVELS)
def test_huge_reviews_fit_one_telegram_message_and_keep_the_checked_line(language: str, level: Level) -> None:
    checked = i18n.t(language, "feedback-checked-rules")
    many = [rule("diacritics", f"dekuji{i}", f"děkuji{i}") for i in range(500)]
    feedback = format_feedback(review(many, text="Děkuji 🙂 " * 2000), language, level=level)
    assert utf16_length(feedback) <= TELEGRAM_TEXT_LIMIT
    assert feedback.endswith(checked) and "…" in feedback

    corrections = [
        Correction(original="š" * 900, suggestion="ž" * 900, kind="grammar", explanation="🙂" * 3000)
        for _ in range(50)
    ] + [rule("preposition-case", "k" * 900, "ž" * 900, preposition="do" * 500, case="genitive")]
    feedback = format_feedback(
        review(corrections, text="🙂" * 5000, comment="🙂" * 3000), language, level=level
    )
    assert utf16_length(feedback) <= TELEGRAM_TEXT_LIMIT
    assert feedback.endswith(checked)


def test_user_text_is_kept_verbatim_as_plain_text() -> None:
    corrections = [Correction(original="<b>byl</b>", suggestion="<i>byla</i> & co", kind="grammar")]
    feedback = format_feedback(review(corrections, text="<b>Včera</b> jsem byla & <script>"), "uk")
    assert "• <b>byl</b> → <i>byla</i> & co" in feedback
    assert "<b>Včera</b> jsem byla & <script>\n\n🔍" in feedback


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("level", LEVELS)
def test_no_unicode_isolation_marks(language: str, level: Level) -> None:
    corrections = [KINO, rule("byt-form", "je", "jsem", pronoun="já"), rule("diacritics", "jit", "jít")]
    feedback = format_feedback(review(corrections), language, level=level)
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
