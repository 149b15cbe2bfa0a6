"""The report (pure): figures, mistakes, recommendations, caption and chart (its calendar week:
tests/domain/test_progress.py; the last 7 days of /report: here).

.venv/bin/python -m tests.domain.test_reports    # regenerates docs/weekly-report-example.png
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mluv import i18n
from mluv.domain.progress import local_date, week_bounds
from mluv.domain.report_figures import (
    MAX_MISTAKES,
    DayFigures,
    MessageFigures,
    Mistake,
    Tip,
    WeeklyReport,
    day_figures,
    rank_mistakes,
)
from mluv.domain.report_tips import MAX_TIPS
from mluv.domain.reports import (
    RECENT_TIP_KEYS,
    WEEKDAY_KEYS,
    build_weekly_report,
    chart_bars,
    period_label,
    recent_period_start,
    render_caption,
    weekly_chart_png,
)
from mluv.domain.telegram_text import TELEGRAM_CAPTION_LIMIT, utf16_length
from mluv.i18n import t
from tests.domain.test_chart import chart_texts, read_png

MONDAY = dt.date(2024, 11, 18)  # 2024-11-18 is a Monday
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "weekly-report-example.png"


@pytest.fixture(autouse=True)
def strict_texts() -> Iterator[None]:
    i18n.set_strict(True)
    yield
    i18n.set_strict(False)


def day(offset: int, messages: int = 0, words: int = 0, correctness: int | None = None) -> DayFigures:
    """A day of the week of MONDAY with every message reviewed at `correctness` (None: not reviewed)."""
    reviewed = words if correctness is not None else 0
    return DayFigures(
        MONDAY + dt.timedelta(days=offset),
        messages=messages,
        words=words,
        reviewed_words=reviewed,
        correctness_points=reviewed * (correctness or 0),
    )


def sample_report() -> WeeklyReport:
    """A plausible week (also the documented example)."""
    return build_weekly_report(
        MONDAY,
        [
            day(0, 6, 120, 88),
            day(2, 3, 45, 80),
            day(3, 9, 310, 91),
            day(4, 4, 88, 76),
            day(6, 1, 7, 100),
        ],
        [
            Mistake("diacritics", "dekuji", "děkuji", 5),
            Mistake("diacritics", "Prosim", "Prosím", 3),
            Mistake("unknown", "xqzvbn", None, 1),
            Mistake("grammar", "jsem byl", "byl jsem", 2),
        ],
        streak=4,
        longest=12,
        previous_words=380,
    )


# --- weeks ----------------------------------------------------------------------------------------------


def test_period_label() -> None:
    assert period_label(MONDAY) == "18.11–24.11"
    assert period_label(dt.date(2024, 12, 30)) == "30.12–05.01"
    assert period_label(dt.date(2024, 11, 27)) == "27.11–03.12"  # the last 7 days from a Wednesday


# --- the last 7 days (/report) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "first_day", "label"),
    [
        (dt.date(2024, 11, 18), dt.date(2024, 11, 12), "12.11–18.11"),  # Monday
        (dt.date(2024, 11, 19), dt.date(2024, 11, 13), "13.11–19.11"),  # Tuesday
        (dt.date(2024, 11, 20), dt.date(2024, 11, 14), "14.11–20.11"),  # Wednesday
        (dt.date(2024, 11, 21), dt.date(2024, 11, 15), "15.11–21.11"),  # Thursday
        (dt.date(2024, 11, 22), dt.date(2024, 11, 16), "16.11–22.11"),  # Friday
        (dt.date(2024, 11, 23), dt.date(2024, 11, 17), "17.11–23.11"),  # Saturday
        (dt.date(2024, 11, 24), dt.date(2024, 11, 18), "18.11–24.11"),  # Sunday: the calendar week
        (dt.date(2024, 12, 3), dt.date(2024, 11, 27), "27.11–03.12"),  # across a month
        (dt.date(2025, 1, 2), dt.date(2024, 12, 27), "27.12–02.01"),  # across the new year
        (dt.date(2024, 3, 1), dt.date(2024, 2, 24), "24.02–01.03"),  # a leap year's February
    ],
)
def test_the_last_7_days_end_today_whatever_the_weekday(
    today: dt.date, first_day: dt.date, label: str
) -> None:
    assert recent_period_start(today) == first_day
    assert period_label(first_day) == label
    report = build_weekly_report(first_day, [])
    assert [d.day for d in report.days] == [today - dt.timedelta(days=6 - i) for i in range(7)]
    assert report.week_end == today


UTC = dt.UTC
ALMATY, NEW_YORK = "Asia/Almaty", "America/New_York"  # UTC+5 or +6 (tzdata's age); UTC-5 in November


@pytest.mark.parametrize(
    ("now", "timezone", "today"),
    [
        # 20:00 UTC: already tomorrow in Almaty, still afternoon in New York.
        (dt.datetime(2024, 11, 20, 20, 0, tzinfo=UTC), ALMATY, dt.date(2024, 11, 21)),
        (dt.datetime(2024, 11, 20, 20, 0, tzinfo=UTC), NEW_YORK, dt.date(2024, 11, 20)),
        # 00:30 UTC: morning in Almaty, still the previous evening in New York.
        (dt.datetime(2024, 11, 21, 0, 30, tzinfo=UTC), ALMATY, dt.date(2024, 11, 21)),
        (dt.datetime(2024, 11, 21, 0, 30, tzinfo=UTC), NEW_YORK, dt.date(2024, 11, 20)),
        # 04:59 UTC: 23:59 in New York, the last minute of its day.
        (dt.datetime(2024, 11, 21, 4, 59, tzinfo=UTC), NEW_YORK, dt.date(2024, 11, 20)),
        (dt.datetime(2024, 11, 21, 5, 0, tzinfo=UTC), NEW_YORK, dt.date(2024, 11, 21)),
        # 19:00 UTC on Sunday: Monday in Almaty (a new calendar week), Sunday in New York.
        (dt.datetime(2024, 11, 24, 19, 0, tzinfo=UTC), ALMATY, dt.date(2024, 11, 25)),
        (dt.datetime(2024, 11, 24, 19, 0, tzinfo=UTC), NEW_YORK, dt.date(2024, 11, 24)),
    ],
)
def test_the_last_7_days_follow_the_learners_time_zone(
    now: dt.datetime, timezone: str, today: dt.date
) -> None:
    assert local_date(now, timezone) == today
    first_day = recent_period_start(today)
    start, end = week_bounds(first_day, timezone)
    # The period's UTC bounds hold the moment of the request (today, up to now) and end at local midnight.
    assert start <= now < end
    assert end - now <= dt.timedelta(days=1) and now - start >= dt.timedelta(days=6)
    assert local_date(start, timezone) == first_day and local_date(end, timezone) == today + dt.timedelta(
        days=1
    )
    # A message written at `now` counts for today: the last bar.
    days = day_figures([MessageFigures(now, 4, 100)], first_day, timezone)
    assert days[-1] == DayFigures(today, messages=1, words=4, reviewed_words=4, correctness_points=400)


# --- figures --------------------------------------------------------------------------------------------


def test_day_figures_group_by_the_learners_local_day() -> None:
    kyiv = "Europe/Kyiv"  # UTC+2 in November
    utc = dt.UTC
    messages = [
        MessageFigures(dt.datetime(2024, 11, 17, 22, 30, tzinfo=utc), 10, 90),  # Monday 00:30 in Kyiv
        MessageFigures(dt.datetime(2024, 11, 18, 12, 0, tzinfo=utc), 5, None),  # Monday, not reviewed
        MessageFigures(dt.datetime(2024, 11, 24, 21, 59, tzinfo=utc), 4, 50),  # Sunday 23:59
        MessageFigures(dt.datetime(2024, 11, 24, 22, 0, tzinfo=utc), 99, 0),  # next Monday: not this week
        MessageFigures(dt.datetime(2024, 11, 17, 21, 59, tzinfo=utc), 99, 0),  # the Sunday before
    ]
    days = day_figures(messages, MONDAY, kyiv)
    assert [d.day for d in days] == [MONDAY + dt.timedelta(days=i) for i in range(7)]
    assert days[0] == DayFigures(MONDAY, messages=2, words=15, reviewed_words=10, correctness_points=900)
    assert days[0].correctness == 90
    assert days[6] == DayFigures(MONDAY + dt.timedelta(days=6), 1, 4, 4, 200)
    assert all(d.messages == 0 for d in days[1:6])


def test_report_totals() -> None:
    report = sample_report()
    assert (report.messages, report.words, report.active_days) == (23, 570, 5)
    # (120*88 + 45*80 + 310*91 + 88*76 + 7*100) / 570 = 49758 / 570 = 87.3
    assert report.correctness == 87
    assert report.challenge_days == 2  # 6 and 9 messages
    assert report.week_end == dt.date(2024, 11, 24)
    assert len(report.days) == 7 and report.days[1] == DayFigures(MONDAY + dt.timedelta(days=1))


def test_correctness_is_none_without_reviewed_words() -> None:
    report = build_weekly_report(MONDAY, [day(0, 2, 10, None), day(1, 1, 0, 100)])
    assert report.correctness is None


def test_mistakes_are_merged_ranked_and_counted_per_kind() -> None:
    ranked = rank_mistakes(
        [
            Mistake("diacritics", "Dekuji", "Děkuji", 2),
            Mistake("diacritics", "dekuji", "děkuji", 1),
            Mistake("unknown", "xqz", None, 3),
            Mistake("diacritics", "prosim", "prosím", 3),
            Mistake("grammar", " ", "x", 9),  # nothing to show
            Mistake("other", "a", "b", 0),
        ]
    )
    assert ranked == (
        Mistake("diacritics", "dekuji", "děkuji", 3),
        Mistake("diacritics", "prosim", "prosím", 3),
        Mistake("unknown", "xqz", None, 3),
    )
    many = [Mistake("spelling", f"w{i}", f"v{i}", i + 1) for i in range(8)]
    report = build_weekly_report(MONDAY, [day(0, 1, 5, 50)], many)
    assert len(report.mistakes) == MAX_MISTAKES and report.mistakes[0].original == "w7"
    assert report.mistake_counts == {"spelling": 36}


def test_json_round_trip() -> None:
    report = sample_report()
    data = report.to_json()
    assert data["messages"] == 23 and data["correctness"] == 87 and data["week_end"] == "2024-11-24"
    assert WeeklyReport.from_json(data) == report


# --- recommendations ------------------------------------------------------------------------------------

SEVEN_DAYS = [day(i, 5, 100, 95) for i in range(7)]  # a great week: 35 messages, 700 words, 95%


def keys(report: WeeklyReport) -> list[str]:
    return [tip.key for tip in report.tips]


@pytest.mark.parametrize(
    ("days", "mistakes", "extra", "expected"),
    [
        pytest.param([], [], {}, ["report-tip-start"], id="no-practice"),
        pytest.param(
            [], [], {"streak": 9, "previous_words": 500}, ["report-tip-start"], id="no-practice-only-start"
        ),
        pytest.param(SEVEN_DAYS, [], {}, ["report-tip-level-up"], id="great-week"),
        pytest.param(
            SEVEN_DAYS,
            [],
            {"streak": 10, "previous_words": 500},
            ["report-tip-growth", "report-tip-level-up", "report-tip-streak"],
            id="great-week-growing",
        ),
        pytest.param(
            [day(0, 1, 20, 80), day(3, 1, 20, 80)],
            [],
            {"previous_words": 200},
            ["report-tip-regularity", "report-tip-comeback"],
            id="two-days-and-less-than-last-week",
        ),
        pytest.param(
            [day(i, 2, 40, 85) for i in range(5)],
            [Mistake("diacritics", "dekuji", "děkuji", 4), Mistake("grammar", "a", "b", 2)],
            {},
            ["report-tip-diacritics", "report-tip-challenge"],
            id="diacritics-and-no-challenge",
        ),
        pytest.param(
            [day(i, 2, 40, 85) for i in range(5)],
            [Mistake("diacritics", "dekuji", "děkuji", 3), Mistake("grammar", "a", "b", 4)],
            {},
            ["report-tip-challenge"],
            id="diacritics-not-the-main-problem",
        ),
        pytest.param(
            [day(i, 5, 20, 60) for i in range(4)],
            [],
            {},
            ["report-tip-accuracy", "report-tip-longer"],
            id="short-and-inaccurate",
        ),
        pytest.param(
            [day(i, 5, 200, 80) for i in range(4)],
            [Mistake("unknown", "xqz", None, 3)],
            {"streak": 2},
            ["report-tip-unknown"],
            id="unknown-words",
        ),
        pytest.param(
            [day(i, 5, 100, 80) for i in range(4)],
            [],
            {"streak": 2},
            ["report-tip-keep-going"],
            id="fallback",
        ),
        pytest.param(
            [day(0, 3, 6, 40)],
            [Mistake("diacritics", "dekuji", "děkuji", 5), Mistake("unknown", "xqz", None, 4)],
            {"previous_words": 100, "streak": 5},
            ["report-tip-regularity", "report-tip-comeback", "report-tip-diacritics"],
            id="at-most-three-by-priority",
        ),
        pytest.param(
            [day(i, 5, 100, None) for i in range(5)], [], {}, ["report-tip-keep-going"], id="nothing-reviewed"
        ),
    ],
)
def test_recommendations(
    days: list[DayFigures], mistakes: list[Mistake], extra: dict[str, Any], expected: list[str]
) -> None:
    report = build_weekly_report(MONDAY, days, mistakes, **extra)
    assert keys(report) == expected
    assert len(report.tips) <= MAX_TIPS


def test_recommendation_arguments() -> None:
    report = build_weekly_report(
        MONDAY,
        [day(0, 3, 6, 40)],
        [Mistake("diacritics", "Dekuji", "Děkuji", 5), Mistake("unknown", "xqz", None, 4)],
        previous_words=100,
        streak=5,
    )
    assert report.tips == (
        Tip("report-tip-regularity", {"days": 1}),
        Tip("report-tip-comeback", {"words": 6, "count": 100}),
        Tip("report-tip-diacritics", {"original": "dekuji", "suggestion": "děkuji"}),
    )
    growth = build_weekly_report(MONDAY, SEVEN_DAYS, previous_words=500, streak=10)
    assert growth.tips[0] == Tip("report-tip-growth", {"count": 40})
    shorter = build_weekly_report(MONDAY, [day(i, 5, 23, 60) for i in range(4)])
    assert Tip("report-tip-longer", {"words": 5}) in shorter.tips  # 92 words / 20 messages = 4.6


# --- caption --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["ru", "uk"])
def test_caption_in_full(language: str) -> None:
    report = sample_report()
    caption = render_caption(report, language)
    lines = caption.split("\n")
    assert lines[:5] == [
        t(language, "report-title", time="18.11–24.11"),
        t(language, "report-totals", messages=23, words=570),
        t(language, "report-active-days", days=5),
        t(language, "report-correctness", correctness=87),
        t(language, "report-streak", streak=4, longest=12),
    ]
    assert t(language, "report-mistake", original="dekuji", suggestion="děkuji", count=5) in lines
    assert t(language, "report-tips-title") in lines
    assert utf16_length(caption) <= TELEGRAM_CAPTION_LIMIT


def test_caption_texts() -> None:
    caption = render_caption(sample_report(), "ru")
    assert caption.startswith("📈 Твоя неделя в Mluv: 18.11–24.11\n✍️ 23 сообщения, 570 слов\n")
    assert "• dekuji → děkuji ×5" in caption
    assert "🔥 Серия: 4 дня подряд, рекорд: 12 дней" in caption
    uk = render_caption(sample_report(), "uk")
    assert "✍️ 23 повідомлення, 570 слів" in uk and "📅 Днів із практикою: 5 із 7" in uk


def test_caption_of_an_empty_week() -> None:
    caption = render_caption(build_weekly_report(MONDAY, []), "uk")
    assert caption == "\n\n".join(
        [
            f"{t('uk', 'report-title', time='18.11–24.11')}\n{t('uk', 'report-empty')}",
            f"{t('uk', 'report-tips-title')}\n{t('uk', 'report-tip-start')}",
        ]
    )


RECENT = dt.date(2024, 11, 27)  # a Wednesday: the last 7 days to Tuesday 03.12


@pytest.mark.parametrize("language", ["ru", "uk"])
def test_caption_of_the_last_7_days(language: str) -> None:
    today = RECENT + dt.timedelta(days=6)
    days = [
        DayFigures(RECENT, 2, 30, 30, 2400),
        DayFigures(RECENT + dt.timedelta(days=3), 3, 50, 50, 4500),
        DayFigures(today, 5, 40, 40, 3600),  # today, up to now
    ]
    report = build_weekly_report(RECENT, days, streak=1, longest=6, previous_words=50)
    caption = render_caption(report, language, recent=True)
    lines = caption.split("\n")
    assert lines[:6] == [
        t(language, "report-recent-title", time="27.11–03.12"),
        t(language, "report-totals", messages=10, words=120),
        t(language, "report-active-days", days=3),
        t(language, "report-correctness", correctness=88),  # (2400 + 4500 + 3600) / 120 = 87.5
        t(language, "report-streak", streak=1, longest=6),
        t(language, "report-recent-previous", words=50),
    ]
    # 120 words against 50 the 7 days before: +140 %, said of the 7 days, not of "last week".
    assert Tip("report-tip-growth", {"count": 140}) in report.tips
    assert t(language, "report-tip-growth-recent", count=140) in lines
    assert t(language, "report-tip-growth", count=140) not in caption
    assert t(language, "report-title", time="27.11–03.12") not in caption
    # The calendar week's caption of the same figures keeps its own words.
    assert render_caption(report, language).startswith(t(language, "report-title", time="27.11–03.12"))


def test_the_last_7_days_caption_texts() -> None:
    report = build_weekly_report(RECENT, [DayFigures(RECENT + dt.timedelta(days=6), 5, 20, 20, 1800)])
    ru = render_caption(report, "ru", recent=True)
    assert ru.startswith("📈 Последние 7 дней в Mluv: 27.11–03.12, включая сегодня\n✍️ 5 сообщений, 20 слов\n")
    assert "за 7 дней до этого" not in ru  # no words before known: no comparison line
    uk = render_caption(report, "uk", recent=True)
    assert uk.startswith(
        "📈 Останні 7 днів у Mluv: 27.11–03.12, разом із сьогоднішнім\n✍️ 5 повідомлень, 20 слів\n"
    )
    compared = dataclasses.replace(report, previous_words=0)
    assert "📊 За 7 дней до этого: 0 слов" in render_caption(compared, "ru", recent=True)


@pytest.mark.parametrize("language", ["ru", "uk"])
def test_caption_of_7_empty_days(language: str) -> None:
    caption = render_caption(build_weekly_report(RECENT, []), language, recent=True)
    assert caption.split("\n")[:2] == [
        t(language, "report-recent-title", time="27.11–03.12"),
        t(language, "report-recent-empty"),
    ]
    assert t(language, "report-empty") not in caption


@pytest.mark.parametrize("key", sorted(RECENT_TIP_KEYS))
@pytest.mark.parametrize("language", ["ru", "uk"])
def test_tips_about_last_week_have_a_7_day_wording(key: str, language: str) -> None:
    args = {"words": 20, "count": 60}
    week, recent = t(language, key, **args), t(language, RECENT_TIP_KEYS[key], **args)
    assert recent != week and "7" in recent


def test_unknown_words_and_missing_correctness_in_the_caption() -> None:
    report = build_weekly_report(MONDAY, [day(0, 1, 3, None)], [Mistake("unknown", "xqzvbn", None, 2)])
    caption = render_caption(report, "ru")
    assert t("ru", "report-correctness-none") in caption
    assert t("ru", "report-mistake-unknown", original="xqzvbn", count=2) in caption
    assert "🔥" not in caption  # no streak ever: no streak line


@pytest.mark.parametrize("language", ["ru", "uk"])
def test_caption_always_fits(language: str) -> None:
    huge = "slovo" * 400  # an online reviewer may quote long fragments
    report = build_weekly_report(
        MONDAY,
        [day(0, 3, 6, 40)],
        [Mistake("diacritics", f"{huge}{i}", f"{huge}{i}x", 10 - i) for i in range(5)],
        previous_words=100,
    )
    caption = render_caption(report, language)
    assert utf16_length(caption) <= TELEGRAM_CAPTION_LIMIT
    assert "…" in caption  # fragments are shortened
    tight = render_caption(report, language, limit=300)
    assert utf16_length(tight) <= 300
    assert t(language, "report-tips-title") in tight or tight.endswith("…")


def test_caption_drops_tips_then_mistakes_when_too_long() -> None:
    report = sample_report()
    full = render_caption(report, "ru")
    tips_title, mistakes_title = t("ru", "report-tips-title"), t("ru", "report-mistakes-title")
    smaller = render_caption(report, "ru", limit=utf16_length(full) - 1)
    assert smaller.count("\n• ") == full.count("\n• ") - 1 and tips_title in smaller
    header = full.split("\n\n")[0]
    one_tip = t("ru", report.tips[0].key, **report.tips[0].args)
    minimal = render_caption(report, "ru", limit=utf16_length(f"{header}\n\n{tips_title}\n{one_tip}"))
    assert mistakes_title not in minimal and minimal.endswith(one_tip)


# --- chart ----------------------------------------------------------------------------------------------


WEEKDAYS = {
    "ru": ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"],
    "uk": ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Нд"],
}
TITLES = {"ru": "Слова за неделю", "uk": "Слова за тиждень"}


@pytest.mark.parametrize("language", ["ru", "uk"])
def test_chart_of_the_week_in_the_learners_language(language: str) -> None:
    report = sample_report()
    bars = chart_bars(report, language)
    assert [bar.label for bar in bars] == WEEKDAYS[language]
    assert [t(language, key) for key in WEEKDAY_KEYS] == WEEKDAYS[language]
    assert [bar.value for bar in bars] == [120, 0, 45, 310, 88, 0, 7]
    assert bars[0].sublabel == "18.11" and bars[6].sublabel == "24.11"
    png = read_png(weekly_chart_png(report, language))
    assert (png.width, png.height) == (800, 480)
    texts = chart_texts(bars, title=t(language, "chart-title"))
    assert texts[0] == TITLES[language]
    assert set(WEEKDAYS[language]) <= set(texts)


def test_the_chart_differs_by_language() -> None:
    report = sample_report()
    assert weekly_chart_png(report, "ru") != weekly_chart_png(report, "uk")


RECENT_TITLES = {"ru": "Слова за последние 7 дней", "uk": "Слова за останні 7 днів"}
TODAY = {"ru": "сегодня", "uk": "сьогодні"}


@pytest.mark.parametrize("language", ["ru", "uk"])
def test_chart_of_the_last_7_days_marks_today(language: str) -> None:
    report = build_weekly_report(RECENT, [DayFigures(RECENT + dt.timedelta(days=6), 5, 40)])
    bars = chart_bars(report, language, recent=True)
    # Wednesday 27.11 … Tuesday 03.12: the weekdays in order from the first day, today last.
    assert [bar.label for bar in bars] == WEEKDAYS[language][2:] + WEEKDAYS[language][:2]
    assert [bar.value for bar in bars] == [0, 0, 0, 0, 0, 0, 40]
    assert [bar.sublabel for bar in bars] == [
        "27.11",
        "28.11",
        "29.11",
        "30.11",
        "01.12",
        "02.12",
        TODAY[language],
    ]
    assert t(language, "chart-today") == TODAY[language]
    assert [bar.sublabel for bar in chart_bars(report, language)][-1] == "03.12"  # a week: dates only
    texts = chart_texts(bars, title=t(language, "chart-title-recent"))
    assert texts[0] == RECENT_TITLES[language] and TODAY[language] in texts
    png = weekly_chart_png(report, language, recent=True)
    assert (read_png(png).width, read_png(png).height) == (800, 480)
    assert png != weekly_chart_png(report, language)


def test_chart_of_a_week_across_the_new_year() -> None:
    report = build_weekly_report(dt.date(2024, 12, 30), [])
    assert [bar.sublabel for bar in chart_bars(report, "uk")][2:4] == ["01.01", "02.01"]
    read_png(weekly_chart_png(dataclasses.replace(report), "uk"))


if __name__ == "__main__":
    EXAMPLE.write_bytes(weekly_chart_png(sample_report(), "ru"))
    print(f"wrote {EXAMPLE}")
    print(render_caption(sample_report(), "ru"))
