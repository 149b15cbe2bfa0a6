"""Chaos scenarios of bench/chaos.py about time: one worker's clock 90 s behind the others' (libfaketime) and
rolling restarts under a one-second cron; each checks one cron_runs row per tick, none run twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from bench.chaos_common import FAST, LOGS, Outcome, Scenario, ScenarioError, Stage, Worker, stage, start
from mluv.db.models import CronRun

# --- helpers ------------------------------------------------------------------------------------------------


async def cron_rows(st: Stage, *names: str) -> list[CronRun]:
    async with st.session_factory() as session:
        query = select(CronRun).where(CronRun.cron_name.in_(names)).order_by(CronRun.business_key)
        return list((await session.scalars(query)).all())


def ticks(start: dt.datetime, end: dt.datetime, interval: int) -> list[str]:
    """The business keys of an every-`interval`-seconds cron's ticks in [start, end]."""
    tick = start.replace(microsecond=0) + dt.timedelta(seconds=(-start.second) % interval)
    if tick < start:
        tick += dt.timedelta(seconds=interval)
    found = []
    while tick <= end:
        found.append(tick.strftime("%Y-%m-%dT%H:%M:%SZ"))
        tick += dt.timedelta(seconds=interval)
    return found


def parse_key(key: str) -> dt.datetime:
    return dt.datetime.fromisoformat(key.replace("Z", "+00:00"))


def body_runs(workers: list[Worker], job_name: str) -> Counter[str]:
    """Per job id: cron bodies run (a "job done" line not preceded by "cron tick already handled")."""
    done: Counter[str] = Counter()
    for worker in workers:
        skipped = {r.get("job_id") for r in worker.records() if r.get("event") == "cron tick already handled"}
        for record in worker.records():
            if (
                record.get("event") == "job done"
                and record.get("job_name") == job_name
                and record.get("job_id") not in skipped
            ):
                done[str(record.get("job_id"))] += 1
    return done


def cron_problems(rows: list[CronRun], expected: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(missing ticks, ticks with attempts > 1 or not succeeded, problem lines)."""
    keys = {row.business_key for row in rows}
    missing = sorted(set(expected) - keys)
    repeated = [f"{r.business_key}: {r.status}, attempt {r.attempts}" for r in rows if r.attempts != 1]
    failed = [f"{r.business_key}: {r.status}" for r in rows if r.status != "succeeded"]
    problems = []
    if missing:
        problems.append(f"ticks without a run: {missing[:10]}")
    if repeated:
        problems.append(f"ticks claimed more than once: {repeated[:10]}")
    if failed:
        problems.append(f"runs not succeeded: {failed[:10]}")
    return missing, repeated, problems


# --- 3. one worker's clock 90 s behind ----------------------------------------------------------------------

SKEW = 90
SKEW_WINDOW = 102.0  # the skew itself, then a dozen seconds of ticks the others already ran
SKEW_INTERVAL = 2
FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


async def clock_skew_90s(redis_url: str) -> Outcome:
    name = "clock-skew-90s"
    if not FAKETIME_LIB.exists():  # noqa: ASYNC240 — one stat before the scenario starts
        raise ScenarioError(f"{FAKETIME_LIB} is missing: apt-get install faketime (.ci/run does)")
    crons = ("health_check", "send_scheduled_messages", "reconcile_deliveries")
    async with stage(redis_url, LOGS / name, HEALTH_CHECK_CRON_SECONDS=str(SKEW_INTERVAL)) as st:
        normal = [st.fleet.start(FAST), st.fleet.start(FAST)]
        skewed = st.fleet.start(
            FAST,
            LD_PRELOAD=str(FAKETIME_LIB),
            FAKETIME=f"-{SKEW}s",
            FAKETIME_DONT_FAKE_MONOTONIC="1",
        )
        await start(*normal, skewed)
        began = dt.datetime.now(dt.UTC)
        await asyncio.sleep(SKEW_WINDOW)
        stopped = dt.datetime.now(dt.UTC)
        for worker in (*normal, skewed):
            worker.terminate()
        codes = [await worker.exited(40) for worker in (*normal, skewed)]
        rows = await cron_rows(st, *crons)
        stamps = [r.get("timestamp") for r in skewed.records() if r.get("event") == "worker started"]
        runs = {cron: body_runs([*normal, skewed], cron) for cron in crons}
        by_skewed = {cron: body_runs([skewed], cron) for cron in crons}
    measured = None
    if stamps and stamps[0]:
        measured = (parse_key(str(stamps[0])) - began).total_seconds()
    health = [row for row in rows if row.cron_name == "health_check"]
    expected = ticks(began + dt.timedelta(seconds=1), stopped - dt.timedelta(seconds=1), SKEW_INTERVAL)
    _, repeated, problems = cron_problems(rows, [])  # every cron: one claim per tick
    missing, _, more = cron_problems(health, expected)  # health_check: every tick of the window
    problems += [problem for problem in more if problem not in problems]
    twice = {cron: [job for job, count in done.items() if count > 1] for cron, done in runs.items()}
    problems += [f"{cron}: bodies run twice for {jobs[:5]}" for cron, jobs in twice.items() if jobs]
    # Ticks the skewed worker reached after the others had run them: from the start to the end - skew.
    contested = ticks(
        began + dt.timedelta(seconds=1), stopped - dt.timedelta(seconds=SKEW + 1), SKEW_INTERVAL
    )
    contested_ids = {f"health_check:{int(parse_key(key).timestamp() * 1000)}" for key in contested}
    taken = sorted(set(by_skewed["health_check"]) & contested_ids)
    if taken:
        problems.append(f"the skewed worker ran ticks the others had run: {taken[:5]}")
    if len(contested) < 3:
        problems.append(f"only {len(contested)} ticks reached by the skewed worker after the others")
    if measured is not None and not -SKEW - 10 < measured < -SKEW + 10:
        problems.append(f"the skewed worker's clock was {measured:.0f} s off, not -{SKEW} s")
    if any(code != 0 for code in codes):
        problems.append(f"worker exit codes {codes}")
    late = sum(1 for row in health if row.business_key < (expected[0] if expected else ""))
    duplicated = len(repeated) + sum(len(jobs) for jobs in twice.values())
    return Outcome(
        name=name,
        passed=not problems,
        summary=(
            f"2 fast workers + 1 with its clock {SKEW} s behind (libfaketime; measured "
            f"{'?' if measured is None else f'{measured:.0f}'} s), {SKEW_WINDOW:g} s of a "
            f"{SKEW_INTERVAL}-second "
            f"health_check and the minute crons: {len(health)} health_check rows for {len(expected)} ticks "
            f"(+{late} before the start, run {SKEW} s late by the skewed worker); {len(contested)} ticks it "
            f"reached after the others ran them: run again 0 ({len(taken)}); all {len(rows)} cron_runs rows "
            f"attempt 1: {'yes' if not repeated else 'no'}"
        ),
        lost=len(missing),
        duplicated=duplicated,
        problems=problems,
        note=f"{len(contested)} ticks reached twice, run once each",
        details={
            "measured_skew_seconds": measured,
            "ticks_expected": len(expected),
            "health_check_rows": len(health),
            "late_rows_by_skewed_worker": late,
            "contested_ticks": len(contested),
            "rows_by_cron": dict(Counter(row.cron_name for row in rows)),
            "missing": missing,
            "attempts_over_1": repeated,
            "exit_codes": codes,
        },
    )


# --- 4. rolling restarts under a one-second cron ------------------------------------------------------------

ROLL_EVERY = 5.0
ROLL_FOR = 30.0


async def rolling_restarts(redis_url: str) -> Outcome:
    name = "rolling-restarts"
    async with stage(redis_url, LOGS / name, HEALTH_CHECK_CRON_SECONDS="1") as st:
        current = [st.fleet.start(FAST) for _ in range(3)]
        await start(*current)
        began = dt.datetime.now(dt.UTC)
        restarts, exits, index = 0, [], 0
        deadline = time.monotonic() + ROLL_FOR
        while time.monotonic() + ROLL_EVERY <= deadline:
            await asyncio.sleep(ROLL_EVERY)
            old = current[index]
            old.terminate()  # a deploy: SIGTERM, then the new machine
            exits.append(await old.exited(30))
            current[index] = st.fleet.start(FAST)
            restarts += 1
            index = (index + 1) % len(current)
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        stopped = dt.datetime.now(dt.UTC)
        await start(*current)
        for worker in current:
            worker.terminate()
        exits += [await worker.exited(30) for worker in current]
        rows = await cron_rows(st, "health_check")
        runs = body_runs(st.fleet.workers, "health_check")
    expected = ticks(began + dt.timedelta(seconds=1), stopped - dt.timedelta(seconds=1), 1)
    missing, repeated, problems = cron_problems(rows, expected)
    twice = [job for job, count in runs.items() if count > 1]
    if twice:
        problems.append(f"bodies run twice for {twice[:5]}")
    if any(code != 0 for code in exits):
        problems.append(f"worker exit codes {exits}")
    in_window = len(set(expected) & {row.business_key for row in rows})
    return Outcome(
        name=name,
        passed=not problems,
        summary=(
            f"3 fast workers, one SIGTERMed and replaced every {ROLL_EVERY:g} s for {ROLL_FOR:g} s "
            f"({restarts} restarts), health_check every second: {len(expected)} ticks → {in_window} runs "
            f"(+{len(rows) - in_window} at the edges), missing {len(missing)}, claimed twice "
            f"{len(repeated)}, bodies run twice {len(twice)}"
        ),
        lost=len(missing),
        duplicated=len(repeated) + len(twice),
        problems=problems,
        note=f"{restarts} restarts; runs {in_window} = ticks {len(expected)}",
        details={
            "restarts": restarts,
            "ticks_expected": len(expected),
            "runs_in_window": in_window,
            "rows": len(rows),
            "missing": missing,
            "attempts_over_1": repeated,
            "exit_codes": exits,
        },
    )


CLOCK_SCENARIOS: dict[str, tuple[Scenario, float]] = {
    "clock-skew-90s": (clock_skew_90s, 160.0),
    "rolling-restarts": (rolling_restarts, 90.0),
}
