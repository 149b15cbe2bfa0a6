"""The report: what it covers, where each part lives, its caption and chart (pure, no I/O).

**Its seven days.** A report covers seven consecutive local days of the learner (users.timezone), from
its first day (`WeeklyReport.week_start`). Two kinds:

- *a calendar week*, Monday to Sunday: the Monday cron sends the most recent week that is over
  (`mluv.domain.progress.previous_week_start`); a finished week never changes, so it is generated once,
  stored (weekly_reports) and reused. Its texts say "week" (`report-title`, `chart-title`).
- *the last 7 days* (`/report`, `recent=True`): the 7 local days ending today (`recent_period_start`:
  today-6 … today), today's figures up to the moment it is made. Computed and sent, never stored (it
  changes with every message). Its texts say "the last 7 days" (`report-recent-*`, `chart-title-recent`),
  its comparison is with the 7 days before, and today's bar is labelled as today (`chart-today`).

**Where each part lives.**

| part | module |
|---|---|
| weeks (bounds, the previous week) and the correctness formula | `mluv.domain.progress` |
| figures per day, mistakes, the stored document (`WeeklyReport`) | `mluv.domain.report_figures` |
| recommendations (the rules and their thresholds) | `mluv.domain.report_tips` |
| the last 7 days, building it, its caption and chart | here |
| the period's messages and mistakes, the stored report | `mluv.db.analytics` |
| a week's job (build, store, send) | `workers.analytics.generate_weekly_report` |
| the last 7 days' job (build, send) | `workers.analytics.send_recent_report` |
| who gets it on Mondays | `workers.notifications.send_weekly_report_notification` |
| `/report` | `mluv.bot.handlers.stats` |

**Caption** (`render_caption`): plain text in the learner's language, at most 1024 characters as Telegram
counts them (UTF-16 code units); when too long, tips and then mistakes are dropped from the end (one tip is
always kept) and fragments of the learner's text are shortened.

**Chart** (`weekly_chart_png`): words per day as bars (`mluv.domain.chart`), in the learner's language: the
title (`chart-title`, `chart-title-recent`) and each bar's weekday abbreviation (`chart-weekday-mon` …
`-sun`), with its date (today's bar of the last 7 days: `chart-today` instead of the date).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Final

from mluv.domain.chart import Bar, bar_chart_png
from mluv.domain.progress import WEEK_DAYS
from mluv.domain.report_figures import MAX_MISTAKES, DayFigures, Mistake, Tip, WeeklyReport, rank_mistakes
from mluv.domain.report_tips import MAX_TIPS, recommend
from mluv.domain.telegram_text import TELEGRAM_CAPTION_LIMIT, shorten, utf16_length
from mluv.i18n import t

CAPTION_MISTAKES: Final = 3  # shown in the caption
MAX_FRAGMENT: Final = 40
# Monday first, as `date.weekday()` counts.
WEEKDAY_KEYS: Final = tuple(
    f"chart-weekday-{day}" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
)
# Tips that name "this week" and "last week": the last 7 days say "these 7 days" and "the 7 days before".
RECENT_TIP_KEYS: Final = {
    "report-tip-comeback": "report-tip-comeback-recent",
    "report-tip-growth": "report-tip-growth-recent",
}


def recent_period_start(today: dt.date) -> dt.date:
    """The first of the 7 local days ending `today` (today included): today-6, whatever the weekday."""
    return today - dt.timedelta(days=WEEK_DAYS - 1)


def build_weekly_report(
    week_start: dt.date,
    days: Sequence[DayFigures],
    mistakes: Iterable[Mistake] = (),
    *,
    streak: int = 0,
    longest: int = 0,
    previous_words: int | None = None,
) -> WeeklyReport:
    """The report of the week starting `week_start` (days missing from `days` count as empty)."""
    by_day = {day.day: day for day in days}
    week = tuple(
        by_day.get(week_start + dt.timedelta(days=offset), DayFigures(week_start + dt.timedelta(days=offset)))
        for offset in range(WEEK_DAYS)
    )
    ranked = rank_mistakes(mistakes)
    counts: dict[str, int] = {}
    for mistake in ranked:
        counts[mistake.kind] = counts.get(mistake.kind, 0) + mistake.count
    report = WeeklyReport(
        week_start=week_start,
        days=week,
        mistakes=ranked[:MAX_MISTAKES],
        mistake_counts=counts,
        streak=streak,
        longest=longest,
        previous_words=previous_words,
    )
    return dataclasses.replace(report, tips=recommend(report, ranked))


def period_label(first_day: dt.date) -> str:
    """ "16.11–22.11": the first and last of the 7 days starting `first_day` (a week or the last 7 days)."""
    end = first_day + dt.timedelta(days=WEEK_DAYS - 1)
    return f"{first_day.day:02d}.{first_day.month:02d}–{end.day:02d}.{end.month:02d}"


# --- caption and chart ----------------------------------------------------------------------------------


def _fragment(text: str) -> str:
    return shorten(" ".join(text.split()), MAX_FRAGMENT)


def _tip_text(tip: Tip, language: str, *, recent: bool = False) -> str:
    args = {name: _fragment(value) if isinstance(value, str) else value for name, value in tip.args.items()}
    return t(language, RECENT_TIP_KEYS.get(tip.key, tip.key) if recent else tip.key, **args)


def _mistake_text(mistake: Mistake, language: str) -> str:
    original = _fragment(mistake.original)
    if mistake.suggestion:
        return t(
            language,
            "report-mistake",
            original=original,
            suggestion=_fragment(mistake.suggestion),
            count=mistake.count,
        )
    return t(language, "report-mistake-unknown", original=original, count=mistake.count)


def render_caption(
    report: WeeklyReport, language: str, *, recent: bool = False, limit: int = TELEGRAM_CAPTION_LIMIT
) -> str:
    """The photo's caption (see the module docstring); at most `limit` UTF-16 code units. `recent`: the
    report of the last 7 days (today included), titled and compared as such."""
    label = period_label(report.week_start)
    header = [t(language, "report-recent-title" if recent else "report-title", time=label)]
    if report.messages == 0:
        header.append(t(language, "report-recent-empty" if recent else "report-empty"))
    else:
        header.append(t(language, "report-totals", messages=report.messages, words=report.words))
        header.append(t(language, "report-active-days", days=report.active_days))
        correctness = report.correctness
        header.append(
            t(language, "report-correctness", correctness=correctness)
            if correctness is not None
            else t(language, "report-correctness-none")
        )
        if report.longest > 0:
            header.append(t(language, "report-streak", streak=report.streak, longest=report.longest))
    if recent and report.previous_words is not None:
        header.append(t(language, "report-recent-previous", words=report.previous_words))
    mistakes = [_mistake_text(mistake, language) for mistake in report.mistakes[:CAPTION_MISTAKES]]
    tips = [_tip_text(tip, language, recent=recent) for tip in report.tips[:MAX_TIPS]]

    def compose() -> str:
        sections = ["\n".join(header)]
        if mistakes:
            sections.append("\n".join([t(language, "report-mistakes-title"), *mistakes]))
        if tips:
            sections.append("\n".join([t(language, "report-tips-title"), *tips]))
        return "\n\n".join(sections)

    text = compose()
    while utf16_length(text) > limit:
        if len(tips) > 1:
            tips.pop()
        elif mistakes:
            mistakes.pop()
        elif tips:
            tips.pop()
        else:
            return shorten(text, limit)
        text = compose()
    return text


def chart_bars(report: WeeklyReport, language: str, *, recent: bool = False) -> list[Bar]:
    """One bar per day: its words, its weekday in `language` and its date ("16.11"); with `recent`, the
    last day is today and says so instead of its date."""
    today = report.week_end if recent else None
    return [
        Bar(
            day.words,
            t(language, WEEKDAY_KEYS[day.day.weekday()]),
            t(language, "chart-today") if day.day == today else f"{day.day.day:02d}.{day.day.month:02d}",
        )
        for day in report.days
    ]


def weekly_chart_png(report: WeeklyReport, language: str, *, recent: bool = False) -> bytes:
    """The PNG of the 7 days in `language` ("ru" or "uk"): words per day (`recent`: see `chart_bars`)."""
    title = t(language, "chart-title-recent" if recent else "chart-title")
    return bar_chart_png(chart_bars(report, language, recent=recent), title=title)
