"""Streak milestones → stars (pure): which milestones are due, their bonuses, each paid once."""

from __future__ import annotations

import pytest

from mluv.domain.gamification import (
    MILESTONE_STARS,
    STREAK_MILESTONES,
    Award,
    due_awards,
    next_milestone,
    stars_for,
    total_stars,
)


def test_every_milestone_has_a_bonus_that_grows_with_the_streak() -> None:
    assert tuple(sorted(MILESTONE_STARS)) == STREAK_MILESTONES == (3, 7, 14, 30, 100)
    bonuses = [stars_for(days) for days in STREAK_MILESTONES]
    assert bonuses == sorted(bonuses) and len(set(bonuses)) == len(bonuses)
    assert [stars_for(days) for days in (3, 7, 14, 30, 100)] == [5, 10, 20, 50, 200]


@pytest.mark.parametrize("days", [0, 1, 2, 4, 8, 99, 101])
def test_a_streak_length_that_is_no_milestone_has_no_bonus(days: int) -> None:
    with pytest.raises(KeyError):
        stars_for(days)


@pytest.mark.parametrize(
    ("current", "awarded", "due"),
    [
        (0, [], []),
        (2, [], []),
        (3, [], [3]),
        (4, [3], []),
        (7, [3], [7]),
        # Missed awards (a lost job, a streak older than the feature) are all paid, smallest first.
        (7, [], [3, 7]),
        (30, [3, 7], [14, 30]),
        (100, [3, 7, 14, 30], [100]),
        (365, [3, 7, 14, 30, 100], []),
        # A learner who lost a long streak and builds a new one is not paid twice.
        (3, [3, 7, 14], []),
        (14, [3, 7, 14, 30], []),
        # The order or duplicates of the stored array do not matter.
        (14, [7, 3, 3], [14]),
    ],
)
def test_due_awards(current: int, awarded: list[int], due: list[int]) -> None:
    awards = due_awards(current, awarded)
    assert [award.days for award in awards] == due
    assert [award.stars for award in awards] == [MILESTONE_STARS[days] for days in due]


def test_awards_name_their_ledger_key_and_add_up() -> None:
    awards = due_awards(14, [])
    assert [award.business_key for award in awards] == ["milestone:3", "milestone:7", "milestone:14"]
    assert total_stars(awards) == 35
    assert total_stars([]) == 0
    assert Award(30, 50).business_key == "milestone:30"


@pytest.mark.parametrize(
    ("current", "expected"), [(0, 3), (2, 3), (3, 7), (13, 14), (29, 30), (30, 100), (100, None), (500, None)]
)
def test_next_milestone(current: int, expected: int | None) -> None:
    assert next_milestone(current) == expected
