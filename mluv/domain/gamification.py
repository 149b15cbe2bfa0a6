"""Streak milestones and their star bonuses: pure rules, no I/O.

A milestone (STREAK_MILESTONES: 3, 7, 14, 30, 100 days) is reached when the current streak is at least
that long, and is rewarded once in a learner's life: `streaks.milestones_awarded` remembers it, so losing
a 7-day streak and building it again does not pay twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType

# Longer streaks are rarer and harder to keep, so the bonus grows faster than the number of days.
MILESTONE_STARS: MappingProxyType[int, int] = MappingProxyType({3: 5, 7: 10, 14: 20, 30: 50, 100: 200})
STREAK_MILESTONES: tuple[int, ...] = tuple(sorted(MILESTONE_STARS))


@dataclass(frozen=True)
class Award:
    days: int
    stars: int

    @property
    def business_key(self) -> str:
        """The delivery ledger key of its congratulation: one message per milestone, ever."""
        return f"milestone:{self.days}"


def stars_for(days: int) -> int:
    """The star bonus of milestone `days`; KeyError for a number of days that is not a milestone."""
    return MILESTONE_STARS[days]


def due_awards(current_streak: int, awarded: Iterable[int]) -> list[Award]:
    """Milestones the streak has reached that were never awarded, smallest first.

    More than one can be due at once only when awards were missed (a job lost, a learner whose streak
    predates the feature); each is still paid exactly once.
    """
    done = set(awarded)
    return [
        Award(days, stars_for(days))
        for days in sorted(STREAK_MILESTONES)
        if days <= current_streak and days not in done
    ]


def total_stars(awards: Iterable[Award]) -> int:
    return sum(award.stars for award in awards)


def next_milestone(current_streak: int) -> int | None:
    """The next milestone ahead of the streak, or None past the last one."""
    return next((days for days in sorted(STREAK_MILESTONES) if days > current_streak), None)
