"""Cron specs: UTC ticks, business keys, tick ids shared with arq's scheduler, `every`, arq's CronJob."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from arq.cron import CronJob
from arq.utils import to_unix_ms

from mluv.jobs.cron import CronJobSpec, CronRun, Schedule, every
from mluv.jobs.queues import Queue
from mluv.jobs.retry import RetryPolicy
from mluv.jobs.run import JobContext

UTC = dt.UTC


async def _body(ctx: JobContext[Any], run: CronRun) -> dict[str, Any]:
    return {"tick": run.tick.isoformat()}


def spec(name: str, *, catch_up: bool = True, timeout: float | None = None, **schedule: Any) -> CronJobSpec:
    # Built directly: the `cron` decorator would register it in the global registry.
    return CronJobSpec(
        name=name,
        fn=_body,
        queue=Queue.LONG,
        retry=RetryPolicy(max_tries=3),
        timeout=timeout,
        catch_up=catch_up,
        **schedule,
    )


DAILY = spec("t_cron_daily", hour=0, minute=5)  # 00:05:00 UTC every day
WEEKLY = spec("t_cron_weekly", weekday=0, hour=2, minute=0)  # Mondays 02:00:00 UTC


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, microsecond: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


# 2024-05-01 is a Wednesday; 2024-05-06 and 2024-05-13 are Mondays.


@pytest.mark.parametrize(
    ("cron_spec", "after", "expected"),
    [
        pytest.param(DAILY, utc(2024, 5, 1, 0, 0), utc(2024, 5, 1, 0, 5), id="daily-before"),
        pytest.param(DAILY, utc(2024, 5, 1, 0, 4, 59), utc(2024, 5, 1, 0, 5), id="daily-a-second-before"),
        pytest.param(
            DAILY, utc(2024, 5, 1, 0, 4, 59, 500000), utc(2024, 5, 1, 0, 5), id="daily-half-a-second-before"
        ),
        pytest.param(DAILY, utc(2024, 5, 1, 0, 5), utc(2024, 5, 2, 0, 5), id="daily-at-tick-is-next-day"),
        pytest.param(DAILY, utc(2024, 5, 1, 0, 5, 0, 300000), utc(2024, 5, 2, 0, 5), id="daily-just-after"),
        pytest.param(DAILY, utc(2024, 5, 1, 13, 0), utc(2024, 5, 2, 0, 5), id="daily-afternoon"),
        pytest.param(DAILY, utc(2024, 12, 31, 23, 59), utc(2025, 1, 1, 0, 5), id="daily-new-year"),
        pytest.param(DAILY, utc(2024, 2, 28, 12, 0), utc(2024, 2, 29, 0, 5), id="daily-leap-day"),
        pytest.param(
            DAILY,
            dt.datetime(2024, 5, 1, 2, 4, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            utc(2024, 5, 1, 0, 5),
            id="daily-from-prague-summer-time",
        ),
        pytest.param(
            DAILY,
            dt.datetime(2024, 4, 30, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
            utc(2024, 5, 2, 0, 5),
            id="daily-from-new-york",
        ),
        pytest.param(WEEKLY, utc(2024, 5, 1, 12, 0), utc(2024, 5, 6, 2, 0), id="weekly-from-wednesday"),
        pytest.param(WEEKLY, utc(2024, 5, 5, 23, 0), utc(2024, 5, 6, 2, 0), id="weekly-from-sunday"),
        pytest.param(WEEKLY, utc(2024, 5, 6, 1, 59, 59), utc(2024, 5, 6, 2, 0), id="weekly-a-second-before"),
        pytest.param(WEEKLY, utc(2024, 5, 6, 2, 0), utc(2024, 5, 13, 2, 0), id="weekly-at-tick"),
        pytest.param(WEEKLY, utc(2024, 5, 6, 2, 30), utc(2024, 5, 13, 2, 0), id="weekly-after-tick"),
        pytest.param(WEEKLY, utc(2024, 12, 31, 0, 0), utc(2025, 1, 6, 2, 0), id="weekly-across-year"),
    ],
)
def test_next_tick(cron_spec: CronJobSpec, after: dt.datetime, expected: dt.datetime) -> None:
    tick = cron_spec.next_tick(after)
    assert tick == expected
    assert tick.utcoffset() == dt.timedelta(0)
    assert tick.microsecond == 0


@pytest.mark.parametrize(
    ("cron_spec", "now", "expected"),
    [
        pytest.param(DAILY, utc(2024, 5, 1, 0, 5), utc(2024, 5, 1, 0, 5), id="daily-at-tick"),
        pytest.param(DAILY, utc(2024, 5, 1, 0, 5, 0, 700000), utc(2024, 5, 1, 0, 5), id="daily-just-after"),
        pytest.param(DAILY, utc(2024, 5, 1, 0, 4, 59), utc(2024, 4, 30, 0, 5), id="daily-a-second-before"),
        pytest.param(DAILY, utc(2024, 5, 1, 12, 0), utc(2024, 5, 1, 0, 5), id="daily-noon"),
        pytest.param(DAILY, utc(2024, 1, 1, 0, 0), utc(2023, 12, 31, 0, 5), id="daily-new-year"),
        pytest.param(WEEKLY, utc(2024, 5, 6, 2, 0), utc(2024, 5, 6, 2, 0), id="weekly-at-tick"),
        pytest.param(WEEKLY, utc(2024, 5, 6, 1, 59), utc(2024, 4, 29, 2, 0), id="weekly-a-minute-before"),
        pytest.param(WEEKLY, utc(2024, 5, 12, 23, 0), utc(2024, 5, 6, 2, 0), id="weekly-sunday"),
        pytest.param(WEEKLY, utc(2024, 5, 13, 1, 0), utc(2024, 5, 6, 2, 0), id="weekly-almost-a-week-later"),
    ],
)
def test_previous_tick(cron_spec: CronJobSpec, now: dt.datetime, expected: dt.datetime) -> None:
    assert cron_spec.previous_tick(now) == expected


def test_previous_tick_none_when_nothing_in_lookback() -> None:
    yearly = spec("t_cron_yearly", month=1, day=1, hour=0, minute=0)
    assert yearly.previous_tick(utc(2024, 6, 1)) is None
    assert yearly.previous_tick(utc(2024, 1, 3)) == utc(2024, 1, 1)


@pytest.mark.parametrize(
    ("catch_up", "tick", "expected"),
    [
        pytest.param(True, utc(2024, 5, 1, 0, 5), "2024-05-01", id="catch-up-date"),
        pytest.param(True, utc(2024, 5, 6, 2, 0), "2024-05-06", id="catch-up-weekly"),
        pytest.param(False, utc(2024, 5, 1, 0, 5), "2024-05-01T00:05:00Z", id="tick-seconds"),
        pytest.param(False, utc(2024, 5, 1, 13, 45, 30), "2024-05-01T13:45:30Z", id="tick-with-seconds"),
        pytest.param(
            False,
            dt.datetime(2024, 5, 1, 2, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2024-05-01T00:05:00Z",
            id="tick-converted-to-utc",
        ),
    ],
)
def test_business_key(catch_up: bool, tick: dt.datetime, expected: str) -> None:
    assert spec("t_cron_key", catch_up=catch_up, hour=0, minute=5).business_key(tick) == expected


@pytest.mark.parametrize(
    ("cron_spec", "tick", "expected"),
    [
        pytest.param(DAILY, utc(2024, 5, 1, 0, 5), "t_cron_daily:1714521900000", id="daily"),
        pytest.param(WEEKLY, utc(2024, 5, 6, 2, 0), "t_cron_weekly:1714960800000", id="weekly"),
        pytest.param(DAILY, utc(1970, 1, 1, 0, 5), "t_cron_daily:300000", id="epoch"),
    ],
)
def test_job_id_for_and_parse_tick_round_trip(
    cron_spec: CronJobSpec, tick: dt.datetime, expected: str
) -> None:
    job_id = cron_spec.job_id_for(tick)
    assert job_id == expected
    # The very id arq's scheduler gives a unique cron job, so a catch-up enqueue collides with it.
    assert job_id == f"{cron_spec.name}:{to_unix_ms(tick)}"
    assert cron_spec.parse_tick(job_id) == tick
    assert cron_spec.parse_tick(f"{job_id}:retry7") == tick


@pytest.mark.parametrize(
    "job_id",
    [
        "t_cron_other:1714521900000",
        "t_cron_daily_extra:1714521900000",
        "t_cron:1714521900000",
        "t_cron_daily",
        "t_cron_daily:",
        "t_cron_daily:abc",
        "t_cron_daily:-5",
        "x:t_cron_daily:1714521900000",
        "3f2b8c0e9a5d4c1e8b7a6f5e4d3c2b1a",
        "",
    ],
)
def test_parse_tick_of_a_foreign_id_is_none(job_id: str) -> None:
    assert DAILY.parse_tick(job_id) is None


def test_parse_tick_escapes_the_name() -> None:
    dotted = spec("t.cron+x", hour=0, minute=5)
    assert dotted.parse_tick("t.cron+x:1714521900000") == utc(2024, 5, 1, 0, 5)
    assert dotted.parse_tick("tXcron+x:1714521900000") is None


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        pytest.param(300, {"minute": set(range(0, 60, 5)), "second": 0}, id="5-minutes"),
        pytest.param(5, {"second": set(range(0, 60, 5))}, id="5-seconds"),
        pytest.param(3600, {"minute": {0}, "second": 0}, id="hourly"),
        pytest.param(60, {"minute": set(range(60)), "second": 0}, id="every-minute"),
        pytest.param(1, {"second": set(range(60))}, id="every-second"),
        pytest.param(30, {"second": {0, 30}}, id="30-seconds"),
        pytest.param(1800, {"minute": {0, 30}, "second": 0}, id="30-minutes"),
    ],
)
def test_every(seconds: int, expected: Schedule) -> None:
    assert every(seconds) == expected


@pytest.mark.parametrize("seconds", [7, 45, 90, 7200, 86400, 59], ids=str)
def test_every_refuses_uneven_intervals(seconds: int) -> None:
    with pytest.raises(ValueError, match=f"^{seconds} s does not divide a minute or an hour evenly$"):
        every(seconds)


@pytest.mark.parametrize("seconds", [0, -5, -60], ids=str)
def test_every_refuses_non_positive_intervals(seconds: int) -> None:
    # 0 used to raise ZeroDivisionError, -5 to return an empty (never firing) schedule.
    with pytest.raises(ValueError, match=f"^an interval must be at least 1 s, not {seconds}$"):
        every(seconds)


def test_every_drives_next_tick() -> None:
    five_minutes = spec("t_cron_every", catch_up=False, **every(300))
    assert five_minutes.next_tick(utc(2024, 5, 1, 10, 7, 31)) == utc(2024, 5, 1, 10, 10)
    assert five_minutes.next_tick(utc(2024, 5, 1, 23, 55)) == utc(2024, 5, 2, 0, 0)
    # previous_tick walks the whole 8-day lookback tick by tick: keep the schedule coarse here.
    hourly = spec("t_cron_hourly", catch_up=False, **every(3600))
    assert hourly.previous_tick(utc(2024, 5, 1, 10, 7, 31)) == utc(2024, 5, 1, 10, 0)


@pytest.mark.parametrize(
    ("timeout", "default_timeout", "timeout_s"),
    [(None, 1800.0, 1805.0), (120.0, 1800.0, 125.0), (None, 30.0, 35.0)],
    ids=["default", "explicit", "fast-default"],
)
def test_arq_cron(timeout: float | None, default_timeout: float, timeout_s: float) -> None:
    daily = spec("t_cron_arq", timeout=timeout, hour=0, minute=5)
    cron_job = daily.arq_cron(default_timeout)
    assert isinstance(cron_job, CronJob)
    assert cron_job.name == "t_cron_arq"
    assert cron_job.unique is True
    assert cron_job.job_id is None
    assert cron_job.run_at_startup is False
    assert cron_job.microsecond == 0
    assert cron_job.max_tries == 6  # the policy's 3 tries, 2 crash re-runs, the dead-letter-only try
    assert cron_job.max_tries is not None
    assert cron_job.max_tries > 1
    assert cron_job.keep_result_s == 86_400
    assert cron_job.keep_result_s > 0
    assert cron_job.timeout_s == timeout_s
    assert (cron_job.month, cron_job.day, cron_job.weekday) == (None, None, None)
    assert (cron_job.hour, cron_job.minute, cron_job.second) == (0, 5, 0)
    assert cron_job.coroutine == daily.run


@pytest.mark.parametrize(
    "now",
    [
        utc(2024, 5, 1, 0, 0),
        utc(2024, 5, 1, 0, 5),
        utc(2024, 5, 1, 0, 4, 59, 999999),
        utc(2024, 5, 4, 18, 30),
    ],
    ids=["before", "at", "just-before", "later"],
)
@pytest.mark.parametrize("cron_spec", [DAILY, WEEKLY], ids=["daily", "weekly"])
def test_arq_scheduler_agrees_with_next_tick(cron_spec: CronJobSpec, now: dt.datetime) -> None:
    cron_job = cron_spec.arq_cron(30)
    cron_job.calculate_next(now)
    assert cron_job.next_run == cron_spec.next_tick(now)
    assert cron_job.next_run is not None
    assert f"{cron_job.name}:{to_unix_ms(cron_job.next_run)}" == cron_spec.job_id_for(cron_job.next_run)


def test_schedule_fields() -> None:
    assert WEEKLY.schedule == {"month": None, "day": None, "weekday": 0, "hour": 2, "minute": 0, "second": 0}
