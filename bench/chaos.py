"""Chaos run: the job framework, the Sender and the bot under crashes, deploys, outages, Telegram's answers,
misbehaving users and forged input.

    .venv/bin/python -m bench.chaos [--only NAME]

Bounded (each scenario has its own timeout, the run a budget of RUN_BUDGET, 20 minutes; ~11 in all on a
2-core machine; the last step of .ci/run), loopback only: worker processes are the deployed commands
(`mluv worker`, `mluv worker --queue long`), the web process where a scenario needs the bot is `mluv serve
--no-migrate` receiving updates by webhook, the Telegram side is the Bot API sandbox in this process, and
every scenario gets a fresh migrated database and a flushed Redis. Every process runs with a real-looking
BOT_TOKEN (bench/chaos_common.py CHAOS_BOT_TOKEN, accepted by the sandbox). Scenarios, in run order
(bench/chaos_faults.py, bench/chaos_security.py and bench/chaos_recovery.py hold the newer ones):

- broadcast-sigkill-x3: a broadcast to 2,000 learners, 1 long + 1 fast worker; the long worker is
  SIGKILLed three times during it (at 20 %, 45 % and 70 % sent) and restarted each time.
- broadcast-sigterm: a broadcast to 1,000 learners; the long worker gets SIGTERM at 40 % (a deploy) and a
  new one starts when it has exited.
- cron-three-workers: three fast workers for ~10 s with HEALTH_CHECK_CRON_SECONDS=2: one health_check run
  (a `cron_runs` row, attempt 1) per 2-second tick.
- daily-catch-up: no worker ran at today's 00:05 tick of `calculate_all_users_daily_stats` (no cron_runs
  row, nothing in Redis); two long workers start together, a third later: it runs once.
- drop-2-percent: a broadcast to 500 learners while the sandbox drops 2 % of the answers after recording
  the message (drop_mode "close"): exactly those rows are `unknown`, none is sent again.
- daily-cron-sigterm: `calculate_all_users_daily_stats` over 40,000 learners / ~400,000 messages (caught
  up at start, the tick having passed with no worker); SIGTERM to the long worker 0.5 s into the run, a
  replacement started at once: one succeeded cron_runs row for the date (attempt 1), the body run once,
  one daily_stats row per learner; recovered in = SIGTERM → the replacement up and the row succeeded.
- redis-stopped-30s: a broadcast to 600 learners with a fast + a long worker on a private redis-server
  (AOF, fsync always; never the shared one); at 30 % sent it is stopped (SIGTERM) for 30 s and started
  again on the same port; a supervisor restarts any worker that exits, as fly.io does. Lost / duplicated
  0, and unknown rows must have reached Telegram (no request is cut here); recovered in = Redis back →
  completed.
- postgres-dropped-20s: a broadcast to 600 learners; at 30 % sent every connection to its database is
  terminated (pg_terminate_backend) every 0.5 s for 20 s: no row left `sending`, lost / duplicated 0, no
  dead letter, unknown rows only if delivered, completed within 40 s of the end of the outage (stops
  early once no job of it is left).
- rate-limited-10pct: a broadcast to 300 learners while the sandbox answers 10 % of sends 429
  (retry_after 1 s): every learner exactly one message, no unknown row, the 429s counted.
- blocked-5pct: 25 of 500 learners blocked the bot before a broadcast: their rows end `blocked`, they are
  marked blocked/inactive, one 403 each (no retry), everyone else exactly one message.
- always-failing-job: a job of bench/chaos_jobs.py (EXTRA_JOB_MODULES) failing every try, max_tries 4:
  4 tries, one dead letter (listed by `mluv jobs failures`), no try after it; 200 other jobs enqueued
  meanwhile all run once.
- flooding-learner: one learner sends 50 messages/s to `mluv serve` during a broadcast to 500 others,
  against a baseline broadcast without the flood: lost / duplicated 0, the throttle (3 per 3 s) lets at
  most its share through, no 429 on the flooder's chat pauses every sender, and the others get the
  broadcast at ≥ half the baseline rate (the flood's own CPU competes with the workers on 2 cores).
- pgbouncer-transaction (bench/chaos_pgbouncer.py): PgBouncer in transaction mode in front of the database,
  every process through it (DATABASE_POOLER=pgbouncer-transaction): a broadcast to 500 learners, 20
  messages reviewed, the crons; lost / duplicated 0 and no prepared-statement error in any process log.
- redis-flushall-broadcast (bench/chaos_recovery.py): 5,000 learners due a reminder this hour, a broadcast
  to them and the hour's send_daily_reminders tick (5,000 jobs spread over ~30 s), fast + long worker on a
  private redis-server; FLUSHALL at 40 % of the 10,000 messages sent; the reconciler (reconcile_deliveries,
  run at once; the broadcast's started_at aged by PENDING_AFTER) resumes the broadcast and enqueues the
  lost reminders again: every learner one of each, lost / duplicated 0.
- blocking-job-past-timeout (bench/chaos_recovery.py, job in bench/chaos_recovery_jobs.py): two jobs
  block their worker's event loop (time.sleep) 45 s, past FAST_JOB_TIMEOUT=5 and arq's 40 s in-progress
  key, one with its ledger row pending, one inside the Telegram request (row `sending`); another worker
  re-runs each: at most one message per delivery, duplicates 0.
- clock-skew-90s (bench/chaos_clocks.py): 2 fast workers and one whose clock is 90 s behind (libfaketime)
  for 102 s of a 2-second health_check and the minute crons: one cron_runs row per tick, attempt 1, and
  none of the ticks the skewed worker reaches after the others ran them is run again.
- rolling-restarts (bench/chaos_clocks.py): 3 fast workers, one SIGTERMed and replaced every 5 s for 30 s
  with health_check every second: runs = ticks, none claimed twice.
- workers-down-past-expiry, webhook-restart-redelivery (bench/chaos_outages.py): no worker for longer than
  a deferred job's arq expiry (must-run jobs sent once, stale ones skipped); `mluv serve` SIGKILLed while
  Telegram redelivers (every update stored and answered once).
- two-deployments (bench/chaos_deployments.py): a second deployment on the same Redis is refused; with its
  own REDIS_NAMESPACE it runs the same job ids beside the first and no job crosses over.
- broadcast-requested-10x: the admin's Confirm tapped 10 times at once (10 callback updates through the
  webhook) and 10 concurrent enqueues of the same broadcast: one broadcast, its job run once, every
  learner exactly one message.
- forged-webhooks: the webhook of `mluv serve` on loopback: no secret → 401, wrong secrets → 401, nothing
  reaches the dispatcher; valid secret, the same update_id posted twice in a row, twice at once, and a
  Telegram redelivery → each handled once.
- pickled-payload: pickles whose unpickling would create a marker file, planted as arq jobs of the fast
  and the long queue straight in Redis: executed 0 (tests/jobs/test_serializer.py shows the bytes
  armed), arq stores a failed result, the workers stay up and answer pings.
- token-grep (last): every file under .mluv/bench-logs/chaos searched for BOT_TOKEN, the sandbox token,
  their secret halves and WEBHOOK_SECRET: 0 matches; a worker's /proc environ shows it ran with BOT_TOKEN.

Broadcast figures come from the sandbox's per-chat message counts against the ledger: lost (no message
and the row does not say `unknown`), duplicated (> 1 message), unknown (cut in flight: allowed, with at
most one message), recovered in (the last fault → the broadcast completed). Telegram's limits are on in
the sandbox, with the global one raised to RATE (200/s) together with RATE_LIMIT_GLOBAL_PER_SECOND, so that
the sends take seconds and the run stays short. LONG_JOB_TIMEOUT=20 (10 for broadcast-sigkill-x3, so that
a SIGKILLed batch's in-progress key expires after 25 s: timeout + 5 s margin + arq's 10 s; 60 for
rate-limited-10pct, whose 429 pauses make batches slower).

Output: one line per scenario, then `chaos: N scenarios run, N passed` and each scenario's figure (lost,
duplicated, unknown, recovered in, and the scenario's own figure). Exit code 1 if a scenario fails.
Writes bench/results/chaos.json (with --only, chaos-NAME.json). Logs of the processes:
.mluv/bench-logs/chaos/<scenario>/ (worker-N-kind.log, serve.log, redis.log). Services:
BENCH_DATABASE_URL or TEST_DATABASE_URL (a server to create databases on) and BENCH_REDIS_URL (a db it may
flush), else embedded servers in .mluv/bench-services.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import sys
import time
import traceback
from typing import Any

from sqlalchemy import select

from bench.chaos_common import (
    BATCH_SIZE,
    FAST,
    LOGS,
    LONG,
    LONG_JOB_TIMEOUT,
    RATE,
    Outcome,
    Scenario,
    ScenarioError,
    broadcast_limits,
    broadcast_ready,
    broadcast_settings,
    check_broadcast,
    database_server,
    enqueue_broadcast,
    eventually,
    last_tick_or_skip,
    sent_to_learners,
    stage,
    start,
    wait_completed,
    wait_sent,
)
from bench.chaos_deployments import DEPLOYMENT_SCENARIOS
from bench.chaos_faults import FAULT_SCENARIOS
from bench.chaos_outages import OUTAGE_SCENARIOS
from bench.chaos_pgbouncer import PGBOUNCER_SCENARIOS
from bench.chaos_recovery import RECOVERY_SCENARIOS
from bench.chaos_security import SECURITY_SCENARIOS, TOKEN_GREP
from bench.common import bench_redis_url, write_result
from mluv.db.models import CronRun
from workers.broadcasts import BATCH_CONCURRENCY, WINDOW

# broadcast-sigkill-x3's LONG_JOB_TIMEOUT: a SIGKILLed batch's in-progress key expires after 25 s (timeout +
# 5 s margin + arq's 10 s) instead of 35 s; a batch of 100 takes ~3-4 s at RATE, well within it.
SIGKILL_JOB_TIMEOUT = 10

# --- 1. SIGKILL ×3 ----------------------------------------------------------------------------------------


async def broadcast_sigkill_x3(redis_url: str) -> Outcome:
    name, learners, shares = "broadcast-sigkill-x3", 2000, (0.20, 0.45, 0.70)
    # A shorter job timeout than the others' (SIGKILL_JOB_TIMEOUT): a killed batch is re-run sooner.
    settings = broadcast_settings(LONG_JOB_TIMEOUT=str(SIGKILL_JOB_TIMEOUT))
    async with stage(redis_url, LOGS / name, limits=broadcast_limits(), **settings) as st:
        long, _fast, broadcast_id = await broadcast_ready(st, learners)
        began = time.monotonic()
        await enqueue_broadcast(st, broadcast_id)
        kills: list[dict[str, Any]] = []
        killed = began
        for share in shares:
            at = await wait_sent(st, int(share * learners), 120, broadcast_id)
            long.kill()
            killed = time.monotonic()
            sent_at_kill = await sent_to_learners(st)
            long = st.fleet.start(LONG)
            await long.started()
            restarted = time.monotonic()
            # Sends resume once the killed batches' in-progress keys expire and the new worker re-runs them.
            await wait_sent(st, sent_at_kill + 1, 90, broadcast_id)
            kills.append(
                {
                    "seen_sent": at,
                    "sent_at_kill": sent_at_kill,
                    "restart_seconds": round(restarted - killed, 2),
                    "sends_resumed_after_seconds": round(time.monotonic() - killed, 2),
                }
            )
        done = await wait_completed(st, broadcast_id, 120)
        check = await check_broadcast(st, broadcast_id)
    recovered = done - killed
    problems = check.problems()
    bound = len(shares) * WINDOW * BATCH_CONCURRENCY
    if check.unknown > bound:
        problems.append(f"{check.unknown} unknown rows, more than the {bound} sends that can be in flight")
    return check.outcome(
        name,
        (
            f"{learners} learners, {len(kills)} SIGKILLs: {check.tally()} "
            f"({check.unknown_delivered} of them delivered), 429s {check.telegram_429}, "
            f"recovered in {recovered:.1f} s after the last kill, total {done - began:.1f} s"
        ),
        problems,
        recovered=recovered,
        details={"kills": kills, "total_seconds": round(done - began, 2)},
    )


# --- 2. SIGTERM -------------------------------------------------------------------------------------------


async def broadcast_sigterm(redis_url: str) -> Outcome:
    name, learners, share = "broadcast-sigterm", 1000, 0.40
    async with stage(redis_url, LOGS / name, limits=broadcast_limits(), **broadcast_settings()) as st:
        long, _fast, broadcast_id = await broadcast_ready(st, learners)
        began = time.monotonic()
        await enqueue_broadcast(st, broadcast_id)
        await wait_sent(st, int(share * learners), 60, broadcast_id)
        long.terminate()
        terminated = time.monotonic()
        sent_at_term = await sent_to_learners(st)
        code = await long.exited(40)  # WORKER_COMPLETION_WAIT (25 s) lets running batches finish
        drained = time.monotonic()
        sent_at_exit = await sent_to_learners(st)
        replacement = st.fleet.start(LONG)
        await replacement.started()
        done = await wait_completed(st, broadcast_id, 60)
        check = await check_broadcast(st, broadcast_id)
    recovered = done - terminated
    problems = check.problems()
    if check.unknown:
        problems.append(f"{check.unknown} unknown rows: a graceful stop should let every send finish")
    if code != 0:
        problems.append(f"the terminated worker exited with {code}")
    return check.outcome(
        name,
        (
            f"{learners} learners, SIGTERM at {sent_at_term} sent: the worker drained in "
            f"{drained - terminated:.1f} s (exit {code}, {sent_at_exit} sent by then); "
            f"{check.tally()}, 429s {check.telegram_429}, "
            f"recovered in {recovered:.1f} s, total {done - began:.1f} s"
        ),
        problems,
        recovered=recovered,
        details={
            "sent_at_sigterm": sent_at_term,
            "sent_at_exit": sent_at_exit,
            "drain_seconds": round(drained - terminated, 2),
            "exit_code": code,
            "total_seconds": round(done - began, 2),
        },
    )


# --- 3. three workers, one run per tick --------------------------------------------------------------------


async def cron_three_workers(redis_url: str) -> Outcome:
    name, interval, window = "cron-three-workers", 2, 10.0
    async with stage(redis_url, LOGS / name, HEALTH_CHECK_CRON_SECONDS=str(interval)) as st:
        workers = [st.fleet.start(FAST) for _ in range(3)]
        await start(*workers)
        began = dt.datetime.now(dt.UTC)
        await asyncio.sleep(window)
        stopped = dt.datetime.now(dt.UTC)
        for worker in workers:
            worker.terminate()
        codes = [await worker.exited(40) for worker in workers]
        async with st.session_factory() as session:
            runs = (
                await session.scalars(
                    select(CronRun).where(CronRun.cron_name == "health_check").order_by(CronRun.business_key)
                )
            ).all()
        executed = st.fleet.count("job done", job_name="health_check")
        skipped = st.fleet.count("cron tick already handled", job_name="health_check")
    # Every tick while all three ran (a second of margin at each end: arq enqueues a tick up to a second
    # ahead, and a tick enqueued just before SIGTERM is not started any more).
    first = began + dt.timedelta(seconds=1)
    expected = []
    tick = first.replace(microsecond=0) + dt.timedelta(seconds=(-first.second) % interval)
    if tick < first:
        tick += dt.timedelta(seconds=interval)
    while tick <= stopped - dt.timedelta(seconds=1):
        expected.append(tick.strftime("%Y-%m-%dT%H:%M:%SZ"))
        tick += dt.timedelta(seconds=interval)
    keys = [run.business_key for run in runs]
    missing = sorted(set(expected) - set(keys))
    repeated = [run.business_key for run in runs if run.attempts != 1]
    not_succeeded = [f"{run.business_key}: {run.status}" for run in runs if run.status != "succeeded"]
    gaps = [
        (dt.datetime.fromisoformat(later) - dt.datetime.fromisoformat(earlier)).total_seconds()
        for earlier, later in itertools.pairwise(keys)
    ]
    problems = []
    if len(expected) < 3:
        problems.append(f"only {len(expected)} ticks in the window")
    if missing:
        problems.append(f"ticks without a run: {missing}")
    if repeated:
        problems.append(f"ticks run more than once (attempts > 1): {repeated}")
    if not_succeeded:
        problems.append(f"runs not succeeded: {not_succeeded}")
    if any(gap != interval for gap in gaps):
        problems.append(f"rows are not one per {interval}-second tick: {keys}")
    if any(code != 0 for code in codes):
        problems.append(f"worker exit codes {codes}")
    in_window = len(set(expected) & set(keys))
    return Outcome(
        name=name,
        passed=not problems,
        summary=(
            f"3 fast workers, {window:g} s of a {interval}-second cron: {len(expected)} ticks → "
            f"{in_window} runs (+{len(keys) - in_window} at the edges), all attempt 1: "
            f"{'yes' if not repeated else 'no'}; bodies {executed - skipped} run, {skipped} ticks "
            f"found already handled"
        ),
        lost=len(missing),
        duplicated=len(repeated),
        problems=problems,
        details={
            "interval_seconds": interval,
            "window_seconds": window,
            "ticks_expected": len(expected),
            "runs": len(runs),
            "runs_in_window": in_window,
            "missing": missing,
            "attempts_over_1": repeated,
            "job_done_lines": executed,
            "already_handled_lines": skipped,
            "exit_codes": codes,
            "business_keys": keys,
        },
    )


# --- 4. a missed daily run, caught up once -----------------------------------------------------------------


async def daily_catch_up(redis_url: str) -> Outcome:
    from workers.analytics import calculate_all_users_daily_stats as spec

    name = "daily-catch-up"
    tick = last_tick_or_skip(name, spec)
    if isinstance(tick, Outcome):
        return tick
    key = spec.business_key(tick)
    async with stage(redis_url, LOGS / name) as st:

        async def rows() -> list[CronRun]:
            async with st.session_factory() as session:
                return list(
                    (await session.scalars(select(CronRun).where(CronRun.cron_name == spec.name))).all()
                )

        # All workers were down across the tick: no claim, and Redis (flushed) holds no job of it.
        before = await rows()
        if before:
            raise ScenarioError(f"cron_runs already has {spec.name}: {before}")
        spawned = time.monotonic()
        first, second = st.fleet.start(LONG), st.fleet.start(LONG)
        await start(first, second)

        async def finished() -> bool:
            return any(row.business_key == key and row.status == "succeeded" for row in await rows())

        await eventually(finished, 30, f"the catch-up run of {spec.name} for {key}")
        recovered = time.monotonic() - spawned
        await asyncio.sleep(2)
        third = st.fleet.start(LONG)  # comes back later: the tick is handled, nothing to catch up
        await third.started()
        await asyncio.sleep(2)
        final = [(row.business_key, row.status, row.attempts) for row in await rows()]
        enqueued = st.fleet.count("catching up a missed cron run", cron=spec.name)
        executed = st.fleet.count("job done", job_name=spec.name)
        handled = st.fleet.count("cron tick already handled", job_name=spec.name)
    problems = []
    if final != [(key, "succeeded", 1)]:
        problems.append(f"cron_runs of {spec.name}: {final}, expected [({key!r}, 'succeeded', 1)]")
    runs = len(final)
    return Outcome(
        name=name,
        passed=not problems,
        summary=(
            f"{spec.name} for {key} (tick {tick:%Y-%m-%d %H:%M} UTC) missed; 2 long workers started, a "
            f"third 2 s later: {runs} run(s) {final}; {enqueued} catch-up enqueue(s), {executed} job "
            f"end(s), {handled} found already handled; recovered in {recovered:.1f} s after the spawn"
        ),
        lost=0 if runs else 1,
        duplicated=max(0, runs - 1) + sum(attempts - 1 for _, _, attempts in final),
        recovered_seconds=round(recovered, 2),
        problems=problems,
        details={
            "cron": spec.name,
            "tick": tick.isoformat(),
            "business_key": key,
            "cron_runs": final,
            "catch_up_enqueues": enqueued,
            "job_done_lines": executed,
            "already_handled_lines": handled,
        },
    )


# --- 5. 2 % of the answers dropped after delivery ----------------------------------------------------------


async def drop_2_percent(redis_url: str) -> Outcome:
    name, learners, share = "drop-2-percent", 500, 0.02
    async with stage(redis_url, LOGS / name, limits=broadcast_limits(), **broadcast_settings()) as st:
        # Created before the faults: the progress message gets through.
        _long, _fast, broadcast_id = await broadcast_ready(st, learners)
        await st.sandbox.set_faults(drop_rate=share, drop_mode="close", seed=2026)
        began = time.monotonic()
        await enqueue_broadcast(st, broadcast_id)
        done = await wait_completed(st, broadcast_id, 60)
        check = await check_broadcast(st, broadcast_id)
    problems = check.problems()
    if check.dropped == 0:
        problems.append("the sandbox dropped no answer: nothing was tested")
    if check.unknown != check.dropped:
        problems.append(f"{check.unknown} unknown rows for {check.dropped} dropped answers")
    if check.unknown_delivered != check.unknown:
        problems.append(
            f"only {check.unknown_delivered} of {check.unknown} unknown rows were recorded by the sandbox"
        )
    return check.outcome(
        name,
        (
            f"{learners} learners, {share:.0%} of answers dropped: {check.dropped} dropped → "
            f"{check.unknown} unknown rows ({check.unknown_delivered} delivered), none resent "
            f"(duplicated {len(check.duplicated)}), lost {len(check.lost)}, "
            f"{check.one_message} with exactly one message, in {done - began:.1f} s"
        ),
        problems,
        details={"drop_rate": share, "total_seconds": round(done - began, 2)},
    )


# --- the run -----------------------------------------------------------------------------------------------


SCENARIOS: dict[str, tuple[Scenario, float]] = {
    # name: (scenario, its timeout in seconds); typical on the 2-core machine: see the module docstring
    "broadcast-sigkill-x3": (broadcast_sigkill_x3, 180.0),
    "broadcast-sigterm": (broadcast_sigterm, 60.0),
    "cron-three-workers": (cron_three_workers, 50.0),
    "daily-catch-up": (daily_catch_up, 45.0),
    "drop-2-percent": (drop_2_percent, 45.0),
    **FAULT_SCENARIOS,
    **OUTAGE_SCENARIOS,
    **PGBOUNCER_SCENARIOS,
    **RECOVERY_SCENARIOS,
    **SECURITY_SCENARIOS,
    **DEPLOYMENT_SCENARIOS,
    **TOKEN_GREP,  # last: it searches the logs every other scenario wrote
}
# The whole run: a scenario's timeout is cut to what is left of it. ~11.5 min on a quiet 2-core machine,
# ~13 min on a busy one: 20 min keeps a slow CI machine from failing scenarios that never started.
RUN_BUDGET = 1200.0


async def run_scenario(name: str, redis_url: str, deadline: float) -> Outcome:
    scenario, timeout = SCENARIOS[name]
    began = time.monotonic()
    timeout = min(timeout, deadline - began)
    if timeout < 10:
        summary = f"FAILED: not started, the run's {RUN_BUDGET:g} s budget is spent"
        return Outcome(name, passed=False, summary=summary, problems=[summary])
    try:
        async with asyncio.timeout(timeout):
            outcome = await scenario(redis_url)
    except TimeoutError:
        detail = f"timed out after {timeout:g} s"
        outcome = Outcome(name, passed=False, summary=f"FAILED: {detail}", counts=False, note=detail)
        outcome.problems.append(outcome.summary)
    except Exception as error:
        detail = "".join(traceback.format_exception_only(error)).strip()
        outcome = Outcome(name, passed=False, summary=f"FAILED: {detail}", counts=False, note=detail[:200])
        outcome.problems.append(detail)
        outcome.details["traceback"] = traceback.format_exc()
    outcome.seconds = round(time.monotonic() - began, 1)
    return outcome


async def main(only: str | None) -> int:
    names = [only] if only else list(SCENARIOS)
    outcomes: list[Outcome] = []
    print(
        f"rate {RATE:g}/s (RATE_LIMIT_GLOBAL_PER_SECOND and the sandbox's global limit; per chat 1/s), "
        f"LONG_JOB_TIMEOUT={LONG_JOB_TIMEOUT}, batches of {BATCH_SIZE}, window {WINDOW}",
        flush=True,
    )
    deadline = time.monotonic() + RUN_BUDGET
    with bench_redis_url() as redis_url, database_server():
        for name in names:
            outcome = await run_scenario(name, redis_url, deadline)
            outcomes.append(outcome)
            verdict = "skip" if outcome.skipped else ("pass" if outcome.passed else "FAIL")
            print(f"{name:<22} {verdict:<5}{outcome.seconds:>6.1f} s  {outcome.summary}", flush=True)
            for problem in outcome.problems:
                print(f"{'':<22}       ✗ {problem}", flush=True)
    ran = [outcome for outcome in outcomes if not outcome.skipped]
    passed = [outcome for outcome in ran if outcome.passed]
    print()
    print(f"chaos: {len(ran)} scenarios run, {len(passed)} passed")
    for outcome in outcomes:
        state = "skipped" if outcome.skipped else ("" if outcome.passed else "FAILED: ") + outcome.figure()
        print(f"  {outcome.name}: {state}")
    path = write_result(
        f"chaos-{only}" if only else "chaos",
        {
            "rate_limit_per_second": RATE,
            "sandbox_global_limit_per_second": RATE,
            "long_job_timeout": LONG_JOB_TIMEOUT,
            "batch_size": BATCH_SIZE,
            "scenarios_run": len(ran),
            "scenarios_passed": len(passed),
            "scenarios": [
                {
                    "name": outcome.name,
                    "passed": outcome.passed,
                    "skipped": outcome.skipped,
                    "seconds": outcome.seconds,
                    "summary": outcome.summary,
                    "figure": outcome.figure(),
                    "lost": outcome.lost,
                    "duplicated": outcome.duplicated,
                    "unknown": outcome.unknown,
                    "recovered_seconds": outcome.recovered_seconds,
                    "problems": outcome.problems,
                    "details": outcome.details,
                }
                for outcome in outcomes
            ],
        },
    )
    print(f"wrote {path}")
    return 0 if len(passed) == len(ran) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=list(SCENARIOS), help="run this scenario alone")
    sys.exit(asyncio.run(main(parser.parse_args().only)))
