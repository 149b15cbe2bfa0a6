"""Chaos scenarios of bench/chaos.py: infrastructure faults, Telegram's answers and misbehaving users.

Each scenario gets a stage (bench/chaos_common.py: a fresh migrated database, a flushed Redis, the Bot
API sandbox in this process, worker subprocesses started with the deployed command) and returns an
Outcome with its figure. See bench/chaos.py's docstring for the list.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import math
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

from redis.asyncio import Redis
from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bench.chaos_common import (
    ADMIN_ID,
    BASE_ID,
    BIN,
    FAST,
    LOGS,
    LONG,
    REPO_ROOT,
    TEXT,
    Fleet,
    Outcome,
    Scenario,
    ScenarioError,
    Stage,
    Worker,
    add_learners,
    bot_server,
    broadcast_limits,
    broadcast_ready,
    broadcast_settings,
    check_broadcast,
    enqueue_broadcast,
    eventually,
    last_tick_or_skip,
    new_broadcast,
    stage,
    start,
    wait_completed,
    wait_sent,
)
from mluv.db.models import Broadcast, CronRun, DailyStats, Delivery, JobFailure, User
from mluv.db.models import Message as PracticeMessage
from mluv.settings import normalise_database_url
from mluv.telegram.reconcile import PENDING_AFTER

# --- helpers --------------------------------------------------------------------------------------------


def problems_of_check(check: Any, ledger_all: dict[str, int] | None = None) -> list[str]:
    """The broadcast check's problems and its dead letters; with `ledger_all` (the audience has members
    outside stage.learners: the admin, a flooder), the broadcast's sent counter is checked against it."""
    found: list[str] = check.problems()
    if ledger_all is not None:
        found = [problem for problem in found if not problem.startswith("broadcast counts")]
        if check.counted_sent != ledger_all.get("sent", 0):
            found.append(
                f"broadcast counts {check.counted_sent} sent, the ledger {ledger_all.get('sent', 0)}"
            )
    if check.dead_letters:
        found.append(f"{check.dead_letters} dead letter(s) in job_failures")
    return found


async def ledger_of(st: Stage, broadcast_id: int) -> dict[str, int]:
    async with st.session_factory() as session:
        rows = await session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.kind == "broadcast", Delivery.business_key == f"broadcast:{broadcast_id}")
            .group_by(Delivery.status)
        )
        return {str(status): int(count) for status, count in rows.all()}


async def unknown_reasons(st: Stage, broadcast_id: int) -> dict[str, int]:
    """Why the ledger's `unknown` rows of the broadcast are unknown (their `error`), with counts."""
    async with st.session_factory() as session:
        rows = await session.execute(
            select(Delivery.error, func.count())
            .where(
                Delivery.kind == "broadcast",
                Delivery.business_key == f"broadcast:{broadcast_id}",
                Delivery.status == "unknown",
            )
            .group_by(Delivery.error)
        )
        return {str(error)[:160]: int(count) for error, count in rows.all()}


async def broadcast_jobs_left(st: Stage, broadcast_id: int) -> int:
    """arq jobs of the broadcast still queued, deferred or running (job or in-progress keys)."""
    found = 0
    for prefix in ("arq:job:", "arq:in-progress:"):
        async for _ in st.redis.scan_iter(f"{prefix}broadcast:{broadcast_id}*", count=1000):
            found += 1
    return found


async def wait_completed_or_stalled(st: Stage, broadcast_id: int, within: float) -> tuple[float, str]:
    """Wait until the broadcast ends, or until no job of it is left for 3 s while it still runs (stalled:
    only the reconciler can move it, after PENDING_AFTER); (monotonic time, "completed"/"stalled"/...)."""
    deadline = time.monotonic() + within
    idle_since: float | None = None
    while True:
        status = await broadcast_status_of(st, broadcast_id)
        now = time.monotonic()
        if status in ("completed", "failed", "cancelled"):
            return now, status
        if await broadcast_jobs_left(st, broadcast_id):
            idle_since = None
        elif idle_since is None:
            idle_since = now
        elif now - idle_since >= 3:
            return idle_since, "stalled"
        if now > deadline:
            return now, "timed out"
        await asyncio.sleep(0.2)


async def dead_letters(st: Stage) -> list[dict[str, Any]]:
    async with st.session_factory() as session:
        rows = (await session.scalars(select(JobFailure).order_by(JobFailure.id))).all()
    return [
        {"job_id": row.job_id, "job_name": row.job_name, "tries": row.tries, "error": row.error[:300]}
        for row in rows
    ]


def failure_lines(fleet: Fleet) -> list[str]:
    """The distinct errors of "job failed" / "job will retry" lines, with how often each came."""
    seen: Counter[str] = Counter()
    for worker in fleet.workers:
        for record in worker.records():
            if record.get("event") in ("job failed", "job will retry"):
                error = str(record.get("error") or record.get("exception") or "")
                first = error.strip().splitlines()[0] if error.strip() else "?"
                seen[f"{record['event']}: {record.get('job_name')}: {first[:160]}"] += 1
    return [f"{count}× {line}" for line, count in seen.most_common(8)]


async def add_learner_range(st: Stage, count: int, base_id: int) -> list[int]:
    """Like add_learners, from another base id (a second audience in the same stage)."""
    await st.sandbox.create_users(count, base_id=base_id)
    month_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    async with st.engine.begin() as connection:
        await connection.execute(
            insert(User).values(
                [
                    {"id": base_id + i, "reminders_enabled": False, "last_active_at": month_ago}
                    for i in range(count)
                ]
            )
        )
    return list(range(base_id, base_id + count))


# --- daily cron under SIGTERM -----------------------------------------------------------------------------

DAILY_LEARNERS = 40_000
DAILY_MESSAGES_MEAN = 10
DAILY_SIGTERM_AFTER = 0.5  # seconds after the run's claim
DAILY_ZONES = ("Europe/Prague", "Europe/Kyiv", "Europe/Moscow", "Asia/Almaty", "America/New_York")


async def add_practice(st: Stage, day: dt.date, learners: int, mean: int) -> int:
    """`learners` learners with 1 … 2·mean-1 messages each at random times of their local `day`."""
    spread = 2 * mean - 1
    zones = ", ".join(f"'{zone}'" for zone in DAILY_ZONES)
    async with st.engine.begin() as connection:
        await connection.execute(text("SELECT setseed(0.2026)"))
        await connection.execute(
            text(f"""INSERT INTO users (id, timezone, language, last_active_at, reminders_enabled)
                SELECT 2000000 + g, (ARRAY[{zones}])[1 + g % {len(DAILY_ZONES)}],
                       CASE WHEN g % 3 = 0 THEN 'uk' ELSE 'ru' END, now() - INTERVAL '30 days', false
                FROM generate_series(1, {learners}) AS g""")
        )
        await connection.execute(
            text(f"""INSERT INTO messages (user_id, text, word_count, correctness, created_at)
                SELECT u.id, 'Ahoj, jak se máš?', (random() * 60)::int,
                       CASE WHEN random() < 0.8 THEN (random() * 100)::int END,
                       (DATE '{day.isoformat()}' + random() * INTERVAL '86399 seconds')
                           AT TIME ZONE u.timezone
                FROM users AS u
                CROSS JOIN LATERAL generate_series(1, 1 + (u.id * 7919) % {spread}) AS n
                WHERE u.id > 2000000""")
        )
        await connection.execute(text("ANALYZE users"))
        await connection.execute(text("ANALYZE messages"))
        return int(await connection.scalar(text("SELECT count(*) FROM messages")) or 0)


async def daily_cron_sigterm(redis_url: str) -> Outcome:
    from workers.analytics import calculate_all_users_daily_stats as spec

    name = "daily-cron-sigterm"
    tick = last_tick_or_skip(name, spec)
    if isinstance(tick, Outcome):
        return tick
    key = spec.business_key(tick)
    day = tick.date() - dt.timedelta(days=2)  # over in every zone at the tick: every learner has a row
    async with stage(redis_url, LOGS / name) as st:
        generated = time.monotonic()
        messages = await add_practice(st, day, DAILY_LEARNERS, DAILY_MESSAGES_MEAN)
        generated = time.monotonic() - generated

        async def row() -> CronRun | None:
            async with st.session_factory() as session:
                found: CronRun | None = await session.scalar(
                    select(CronRun).where(CronRun.cron_name == spec.name, CronRun.business_key == key)
                )
                return found

        # The tick passed while no worker ran: the long worker catches it up at start (as after downtime).
        old = st.fleet.start(LONG)
        await old.started()

        async def running() -> bool:
            current = await row()
            if current is not None and current.status != "running":
                raise ScenarioError(f"the run ended ({current.status}) before the SIGTERM could land")
            return current is not None

        await eventually(running, 30, f"the {spec.name} run to start")
        await asyncio.sleep(DAILY_SIGTERM_AFTER)  # inside its statement (~2 s on the 2-core machine)
        await running()
        sigterm_wall = dt.datetime.now(dt.UTC)
        old.terminate()  # the deploy: running jobs get WORKER_COMPLETION_WAIT (25 s) to finish
        terminated = time.monotonic()
        replacement = st.fleet.start(LONG)  # the new machine boots while the old one drains
        code = await old.exited(40)
        drained = time.monotonic() - terminated
        await replacement.started()

        async def succeeded() -> bool:
            current = await row()
            return current is not None and current.status == "succeeded"

        await eventually(succeeded, 40, f"{spec.name} for {key} to succeed")
        recovered = time.monotonic() - terminated
        await asyncio.sleep(3)  # the replacement's scheduler and catch-up had their chance to run it again
        async with st.session_factory() as session:
            runs = (await session.scalars(select(CronRun).where(CronRun.cron_name == spec.name))).all()
            stats_rows = int(await session.scalar(select(func.count()).select_from(DailyStats)) or 0)
            stats_users = int(
                await session.scalar(select(func.count(func.distinct(DailyStats.user_id)))) or 0
            )
            expected = int(
                await session.scalar(
                    select(func.count(func.distinct(PracticeMessage.user_id))).select_from(PracticeMessage)
                )
                or 0
            )
        final = [(run.business_key, run.status, run.attempts) for run in runs]
        result = dict(runs[0].result or {}) if runs else {}
        finished_at = runs[0].finished_at if runs else None
        computed_lines = st.fleet.count("daily statistics computed")
        done_lines = st.fleet.count("job done", job_name=spec.name)
        handled_lines = st.fleet.count("cron tick already handled", job_name=spec.name)
    problems = []
    if final != [(key, "succeeded", 1)]:
        problems.append(f"cron_runs of {spec.name}: {final}, expected [({key!r}, 'succeeded', 1)]")
    if finished_at is None or finished_at <= sigterm_wall:
        problems.append("the run had ended before the SIGTERM: nothing was tested")
    if computed_lines != 1:
        problems.append(f"the body ran {computed_lines} times (log lines 'daily statistics computed')")
    if stats_rows != expected or stats_users != expected:
        problems.append(f"daily_stats has {stats_rows} rows for {stats_users} learners, expected {expected}")
    if result.get("inserted") != expected:
        problems.append(f"the run reports {result.get('inserted')} rows inserted, expected {expected}")
    if code != 0:
        problems.append(f"the terminated worker exited with {code}")
    in_run = (finished_at - sigterm_wall).total_seconds() if finished_at else 0.0
    return Outcome(
        name=name,
        passed=not problems,
        summary=(
            f"{spec.name} for {key} over {DAILY_LEARNERS:,} learners / {messages:,} messages; SIGTERM "
            f"{result.get('seconds', 0) - in_run:.1f} s into the run ({result.get('seconds')} s), it "
            f"finished "
            f"{in_run:.1f} s later, the worker exited {code} after {drained:.1f} s; a replacement started at "
            f"once: {len(final)} run(s) {final}, body run {computed_lines}×, daily_stats {stats_rows} rows "
            f"(expected {expected}); recovered in {recovered:.1f} s"
        ),
        lost=0 if final else 1,
        duplicated=max(0, computed_lines - 1),
        recovered_seconds=round(recovered, 2),
        problems=problems,
        note=f"runs for the tick {len(final)} ({', '.join(f'{s} ×{a}' for _, s, a in final)})",
        details={
            "cron": spec.name,
            "business_key": key,
            "learners": DAILY_LEARNERS,
            "messages": messages,
            "generate_seconds": round(generated, 2),
            "cron_runs": final,
            "run_result": result,
            "finished_after_sigterm_seconds": round(in_run, 2),
            "drain_seconds": round(drained, 2),
            "exit_code": code,
            "daily_stats_rows": stats_rows,
            "expected_rows": expected,
            "computed_lines": computed_lines,
            "job_done_lines": done_lines,
            "already_handled_lines": handled_lines,
        },
    )


# --- Redis stopped for 30 s -------------------------------------------------------------------------------

REDIS_OUTAGE = 30.0


class PrivateRedis:
    """A redis-server of this scenario alone (never the shared one), on a port of its own; append-only
    file fsynced on every write, so a stop and a start on the same port keep the queues."""

    def __init__(self, directory: Path, log_path: Path) -> None:
        from mluv.embedded import free_tcp_port, redis_server_binary

        found = shutil.which("redis-server")
        self.binary = Path(found) if found else redis_server_binary()
        self.directory = directory
        self.log_path = log_path
        self.port = free_tcp_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        log_path.unlink(missing_ok=True)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _spawn(self) -> subprocess.Popen[bytes]:
        command = [
            str(self.binary),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.directory),
            "--logfile", str(self.log_path),
            "--daemonize", "no",
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
        ]  # fmt: skip
        return subprocess.Popen(command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL)

    async def start(self) -> None:
        self.process = self._spawn()

        async def answers() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise ScenarioError(
                    f"redis-server exited: {self.log_path.read_text(errors='replace')[-2000:]}"
                )
            client = Redis.from_url(self.url)
            try:
                return bool(await client.ping())
            except Exception:
                return False
            finally:
                await client.aclose()

        await eventually(answers, 15, f"redis-server on port {self.port}")

    async def stop(self) -> None:
        """SIGTERM: Redis finishes the append-only file and exits (a restart, a failover's old primary)."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)

        async def gone() -> bool:
            return process.poll() is not None

        try:
            await eventually(gone, 15, "redis-server to exit")
        except ScenarioError:
            process.kill()
            process.wait(5)


@contextlib.asynccontextmanager
async def private_redis(logs: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(REPO_ROOT / ".mluv" / "chaos-redis", logs / "redis.log")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class Supervisor:
    """Restarts a worker whose process exited, a second later, as fly.io restarts a machine."""

    def __init__(self, st: Stage, workers: dict[str, Worker]) -> None:
        self.st = st
        self.current = dict(workers)
        self.restarts: Counter[str] = Counter()
        self.exits: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            for target, worker in list(self.current.items()):
                code = worker.process.poll()
                if code is not None:
                    kind = "long" if target == LONG else "fast"
                    self.exits.append({"worker": kind, "pid": worker.pid, "exit_code": code})
                    self.restarts[kind] += 1
                    self.current[target] = self.st.fleet.start(target)
            await asyncio.sleep(1.0)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="chaos-supervisor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def redis_stopped_30s(redis_url: str) -> Outcome:
    name, learners, share = "redis-stopped-30s", 600, 0.30
    logs = LOGS / name
    logs.mkdir(parents=True, exist_ok=True)
    async with (
        private_redis(logs) as server,
        stage(server.url, logs, limits=broadcast_limits(), **broadcast_settings()) as st,
    ):
        await add_learners(st, learners)
        long, fast = st.fleet.start(LONG), st.fleet.start(FAST)
        await start(long, fast)
        supervisor = Supervisor(st, {LONG: long, FAST: fast})
        supervisor.start()
        try:
            broadcast_id = await new_broadcast(st)
            began = time.monotonic()
            await enqueue_broadcast(st, broadcast_id)
            sent_at_stop = await wait_sent(st, int(share * learners), 60, broadcast_id)
            await server.stop()
            stopped = time.monotonic()
            await asyncio.sleep(REDIS_OUTAGE)
            exits_during = len(supervisor.exits)
            await server.start()
            restarted = time.monotonic()
            outage = restarted - stopped
            try:
                done = await wait_completed(st, broadcast_id, 60)
                completed = True
            except ScenarioError:
                done, completed = time.monotonic(), False

            async def alive() -> bool:
                return all(w.process.poll() is None for w in supervisor.current.values())

            await eventually(alive, 10, "both workers alive")
            await asyncio.gather(*(worker.started(30) for worker in supervisor.current.values()))
            workers_back = time.monotonic()
        finally:
            await supervisor.stop()
            if not server.running:  # the stage flushes its Redis on the way out
                await server.start()
        check = await check_broadcast(st, broadcast_id)
        ledger = await ledger_of(st, broadcast_id)
        reasons = await unknown_reasons(st, broadcast_id)
        letters = await dead_letters(st)
        failures = failure_lines(st.fleet)
        retry_lines = st.fleet.count("job will retry")
    recovered = done - restarted
    problems = problems_of_check(check)
    never_sent = check.unknown - check.unknown_delivered
    if never_sent:
        # No process is killed mid-request here (a crash lets running jobs finish their requests): these
        # rows never reached Telegram, and the ledger never resends an unknown row.
        problems.append(
            f"{never_sent} learners never got the broadcast: their rows are `unknown` ({reasons}) but the "
            "request never reached Telegram, and unknown rows are never resent"
        )
    if not completed:
        problems.append(f"the broadcast did not complete within 60 s after Redis came back: ledger {ledger}")
    return check.outcome(
        name,
        (
            f"{learners} learners, fast + long worker on a private redis-server (AOF, fsync always), stopped "
            f"at {sent_at_stop} sent for {outage:.1f} s: {exits_during} worker exit(s) during the outage, "
            f"{sum(supervisor.restarts.values())} restart(s) by the supervisor "
            f"({dict(supervisor.restarts)}); {check.tally()} ({never_sent} never delivered)"
            f"; broadcast {check.status}, recovered in {recovered:.1f} s after Redis came "
            f"back (workers up {workers_back - restarted:.1f} s after), total {done - began:.1f} s"
        ),
        problems,
        recovered=recovered,
        note=(
            f"unknown never delivered {never_sent}, worker restarts {sum(supervisor.restarts.values())}, "
            "workers alive 2/2"
        ),
        details={
            "ledger_all": ledger,
            "unknown_reasons": reasons,
            "unknown_never_delivered": never_sent,
            "sent_at_stop": sent_at_stop,
            "outage_seconds": round(outage, 2),
            "worker_exits": supervisor.exits,
            "restarts": dict(supervisor.restarts),
            "workers_back_seconds": round(workers_back - restarted, 2),
            "job_retry_lines": retry_lines,
            "failures": failures,
            "dead_letter_rows": letters,
            "total_seconds": round(done - began, 2),
        },
    )


# --- PostgreSQL connections dropped for 20 s --------------------------------------------------------------

PG_OUTAGE = 20.0
PG_KILL_EVERY = 0.5
PG_RECOVERY_WAIT = 40.0


async def postgres_dropped_20s(redis_url: str) -> Outcome:
    name, learners, share = "postgres-dropped-20s", 600, 0.30
    async with stage(redis_url, LOGS / name, limits=broadcast_limits(), **broadcast_settings()) as st:
        long, fast, broadcast_id = await broadcast_ready(st, learners)
        began = time.monotonic()
        await enqueue_broadcast(st, broadcast_id)
        sent_at_drop = await wait_sent(st, int(share * learners), 60, broadcast_id)
        url = make_url(normalise_database_url(st.database_url))
        database = url.database
        admin = create_async_engine(
            url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        terminated, rounds = 0, 0
        dropped = time.monotonic()
        try:
            async with admin.connect() as connection:
                while time.monotonic() - dropped < PG_OUTAGE:
                    killed = await connection.scalar(
                        text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = :database AND pid <> pg_backend_pid()"
                        ),
                        {"database": database},
                    )
                    terminated += int(killed or 0)
                    rounds += 1
                    await asyncio.sleep(PG_KILL_EVERY)
        finally:
            await admin.dispose()
        back = time.monotonic()
        await st.engine.dispose()  # this process's pooled connections were killed too
        sent_at_back = await st.sandbox.counters()
        done, ending = await wait_completed_or_stalled(st, broadcast_id, PG_RECOVERY_WAIT)
        completed = ending == "completed"
        check = await check_broadcast(st, broadcast_id)
        ledger = await ledger_of(st, broadcast_id)
        reasons = await unknown_reasons(st, broadcast_id)
        letters = await dead_letters(st)
        failures = failure_lines(st.fleet)
        alive = [worker.process.poll() is None for worker in (long, fast)]
    recovered = done - back
    problems = problems_of_check(check)
    never_sent = check.unknown - check.unknown_delivered
    if never_sent:
        # Terminating database connections cuts no HTTP request: such rows never reached Telegram, and the
        # ledger never resends an unknown row.
        problems.append(f"{never_sent} rows `unknown` ({reasons}) that the sandbox never received")
    stuck = ledger.get("sending", 0)
    if stuck:
        problems.append(f"{stuck} ledger rows still `sending` after recovery")
    if ending == "stalled":
        problems.append(
            f"the broadcast stalled: no job of it left in Redis {recovered:.0f} s after the database came "
            f"back (status {check.status}, ledger {ledger}); only the reconciler resumes it, once its rows "
            f"have been untouched for PENDING_AFTER ({PENDING_AFTER:g} s)"
        )
    elif not completed:
        problems.append(
            f"the broadcast did not complete within {PG_RECOVERY_WAIT:g} s after the database came back "
            f"({ending}; status {check.status}, ledger {ledger})"
        )
    if not all(alive):
        problems.append(f"workers alive after the outage: {alive} (long, fast)")
    if letters:
        problems.append(
            "jobs dead-lettered by the outage: "
            + "; ".join(
                f"{row['job_id']} after {row['tries']} tries: {row['error'][:140]}" for row in letters[:3]
            )
        )
    return check.outcome(
        name,
        (
            f"{learners} learners; at {sent_at_drop} sent every connection to the database was terminated "
            f"every {PG_KILL_EVERY:g} s for {PG_OUTAGE:g} s ({terminated} backends in {rounds} rounds): "
            f"broadcast {check.status}, ledger {ledger}, {check.tally()} "
            f"({check.unknown_delivered} delivered), stuck sending "
            f"{stuck}, dead letters {len(letters)}; "
            + (f"recovered in {recovered:.1f} s" if completed else f"{ending} {recovered:.0f} s after")
        ),
        problems,
        recovered=recovered if completed else None,
        note=(
            f"stuck sending {stuck}, still pending {ledger.get('pending', 0)}, dead letters {len(letters)}"
            + ("" if completed else f", {ending}")
        ),
        details={
            "ledger_all": ledger,
            "ending": ending,
            "unknown_reasons": reasons,
            "unknown_never_delivered": never_sent,
            "sent_at_drop": sent_at_drop,
            "sent_when_back": int(sent_at_back["sent"]) - 1,
            "backends_terminated": terminated,
            "kill_rounds": rounds,
            "failures": failures,
            "dead_letter_rows": letters,
            "workers_alive": alive,
            "total_seconds": round(done - began, 2),
        },
    )


# --- Telegram answers 429 to 10 % of sends ----------------------------------------------------------------


async def rate_limited_10pct(redis_url: str) -> Outcome:
    name, learners, share, retry_after = "rate-limited-10pct", 300, 0.10, 1
    # A 429 pauses every sender for retry_after, so batches take longer: a job timeout to match.
    settings = broadcast_settings(LONG_JOB_TIMEOUT="60")
    async with stage(redis_url, LOGS / name, limits=broadcast_limits(), **settings) as st:
        _long, _fast, broadcast_id = await broadcast_ready(st, learners)
        await st.sandbox.set_faults(rate_limit_rate=share, rate_limit_retry_after=retry_after, seed=2026)
        began = time.monotonic()
        await enqueue_broadcast(st, broadcast_id)
        done = await wait_completed(st, broadcast_id, 50)
        check = await check_broadcast(st, broadcast_id)
        counters = await st.sandbox.counters()
        attempts = sum(counters["by_method"].get("sendMessage", {}).values())
    seconds = done - began
    problems = problems_of_check(check)
    if check.telegram_429 == 0:
        problems.append("the sandbox answered no 429: nothing was tested")
    if check.unknown:
        problems.append(f"{check.unknown} unknown rows: a 429 means not delivered, so none should be unknown")
    return check.outcome(
        name,
        (
            f"{learners} learners, {share:.0%} of sends answered 429 (retry_after {retry_after} s): "
            f"{check.telegram_429} 429s obeyed, {check.tally()}, in "
            f"{seconds:.1f} s ({learners / seconds:.1f} sends/s)"
        ),
        problems,
        note=f"429s {check.telegram_429}, delivered once {check.one_message}/{learners}",
        details={
            "rate_limit_rate": share,
            "retry_after": retry_after,
            "send_requests": attempts,
            "sends_per_second": round(learners / seconds, 2),
            "total_seconds": round(seconds, 2),
        },
    )


# --- 5 % of the learners blocked the bot ------------------------------------------------------------------


async def blocked_5pct(redis_url: str) -> Outcome:
    name, learners, every = "blocked-5pct", 500, 20
    async with stage(redis_url, LOGS / name, limits=broadcast_limits(), **broadcast_settings()) as st:
        everyone = await add_learners(st, learners)
        blocked = everyone[::every]
        for user_id in blocked:  # they blocked the bot; the bot never saw the my_chat_member update
            await st.sandbox.block(user_id)
        long, fast = st.fleet.start(LONG), st.fleet.start(FAST)
        await start(long, fast)
        broadcast_id = await new_broadcast(st)
        began = time.monotonic()
        await enqueue_broadcast(st, broadcast_id)
        done = await wait_completed(st, broadcast_id, 50)
        st.learners = [user for user in everyone if user not in set(blocked)]
        check = await check_broadcast(st, broadcast_id)
        received = {int(chat["id"]): int(chat["received"]) for chat in await st.sandbox.chats()}
        async with st.session_factory() as session:
            rows = await session.execute(
                select(Delivery.recipient_id, Delivery.status, Delivery.attempts).where(
                    Delivery.kind == "broadcast",
                    Delivery.business_key == f"broadcast:{broadcast_id}",
                    Delivery.recipient_id.in_(blocked),
                )
            )
            blocked_rows = {int(user): (str(status), int(attempts)) for user, status, attempts in rows.all()}
            marked = set(
                (
                    await session.scalars(
                        select(User.id).where(
                            User.id.in_(blocked), User.is_blocked.is_(True), User.is_active.is_(False)
                        )
                    )
                ).all()
            )
            wrongly_marked = int(
                await session.scalar(
                    select(func.count()).where(User.id.in_(st.learners), User.is_blocked.is_(True))
                )
                or 0
            )
            counted = (
                await session.execute(select(Broadcast).where(Broadcast.id == broadcast_id))
            ).scalar_one()
        counters = await st.sandbox.counters()
    forbidden = int(counters["forbidden_403"])
    problems = problems_of_check(check)
    not_blocked = sorted(user for user in blocked if blocked_rows.get(user, ("missing", 0))[0] != "blocked")
    retried = sorted(user for user, (_, attempts) in blocked_rows.items() if attempts != 1)
    if not_blocked:
        problems.append(
            f"{len(not_blocked)} blocked learners' rows are not `blocked`, e.g. {not_blocked[:5]}"
        )
    if len(marked) != len(blocked):
        problems.append(f"only {len(marked)} of {len(blocked)} blocked learners marked blocked/inactive")
    if wrongly_marked:
        problems.append(f"{wrongly_marked} learners who did not block the bot were marked blocked")
    if forbidden != len(blocked) or retried:
        problems.append(
            f"{forbidden} 403 answers for {len(blocked)} blocked learners (rows retried: {retried[:5]})"
        )
    got_message = [user for user in blocked if received.get(user, 0)]
    if got_message:
        problems.append(f"{len(got_message)} blocked learners received a message")
    if counted.blocked != len(blocked):
        problems.append(f"the broadcast counts {counted.blocked} blocked, expected {len(blocked)}")
    return check.outcome(
        name,
        (
            f"{learners} learners, {len(blocked)} ({len(blocked) / learners:.0%}) blocked the bot before the "
            f"broadcast: {len(blocked) - len(not_blocked)} rows `blocked`, {len(marked)} learners marked "
            f"blocked, {forbidden} 403s for {len(blocked)} (retries of 403s: {forbidden - len(blocked)}); "
            f"the other {len(st.learners)}: {check.tally()}, in {done - began:.1f} s"
        ),
        problems,
        note=(
            f"blocked rows {len(blocked) - len(not_blocked)}/{len(blocked)}, marked blocked {len(marked)}, "
            f"403 retries {forbidden - len(blocked)}"
        ),
        details={
            "blocked_learners": len(blocked),
            "blocked_rows": len(blocked) - len(not_blocked),
            "marked_blocked": len(marked),
            "forbidden_403": forbidden,
            "broadcast_counters": {
                "sent": counted.sent,
                "blocked": counted.blocked,
                "failed": counted.failed,
            },
            "total_seconds": round(done - began, 2),
        },
    )


# --- a job that always fails ------------------------------------------------------------------------------


async def always_failing_job(redis_url: str) -> Outcome:
    from arq.jobs import Job

    from bench.chaos_jobs import (
        ALWAYS_FAILS_TRIES,
        chaos_always_fails,
        chaos_ok,
        done_key,
        tries_key,
    )
    from mluv.jobs.connections import create_arq_pool
    from mluv.jobs.serializer import deserialize

    name, others = "always-failing-job", 200
    token = secrets.token_hex(4)
    async with stage(redis_url, LOGS / name, EXTRA_JOB_MODULES="bench.chaos_jobs") as st:
        workers = [st.fleet.start(FAST), st.fleet.start(FAST)]
        await start(*workers)
        pool = await create_arq_pool(st.redis_url)
        try:
            began = time.monotonic()
            failing = await chaos_always_fails.enqueue(pool, token=token)
            assert failing is not None
            # The other jobs arrive while the failing one retries (0.5 + 1 + 2 s of backoff).
            for n in range(others):
                await chaos_ok.enqueue(pool, token=token, n=n)
                await asyncio.sleep(0.02)

            async def letter() -> list[JobFailure]:
                async with st.session_factory() as session:
                    return list(
                        (
                            await session.scalars(
                                select(JobFailure).where(JobFailure.job_name == chaos_always_fails.name)
                            )
                        ).all()
                    )

            await eventually(letter, 30, "the dead letter")
            dead = time.monotonic() - began

            async def all_done() -> bool:
                return int(await st.redis.scard(done_key(token))) >= others  # type: ignore[misc]

            await eventually(all_done, 30, f"{others} other jobs")
            await asyncio.sleep(4)  # nothing tries it again after the last try
            tries = [int(value) for value in await st.redis.lrange(tries_key(token), 0, -1)]  # type: ignore[misc]
            letters = await letter()
            info = await Job(failing.job_id, pool, _deserializer=deserialize).result_info()
            ok = int(await st.redis.scard(done_key(token)))  # type: ignore[misc]
            repeats = int(await st.redis.get(f"{done_key(token)}:repeats") or 0)
        finally:
            await pool.aclose()
        other_letters = [row for row in await dead_letters(st) if row["job_name"] != chaos_always_fails.name]
        retry_lines = st.fleet.count("job will retry", job_name=chaos_always_fails.name)
        failed_lines = st.fleet.count("job failed", job_name=chaos_always_fails.name)
        ok_lines = st.fleet.count("job done", job_name=chaos_ok.name)
        cli = await asyncio.create_subprocess_exec(
            str(BIN / "mluv"), "jobs", "failures", cwd=REPO_ROOT, env=st.fleet.env, stdout=subprocess.PIPE
        )
        async with asyncio.timeout(60):
            stdout = (await cli.communicate())[0].decode(errors="replace")
    listed = stdout.count(chaos_always_fails.name)
    problems = []
    if tries != list(range(1, ALWAYS_FAILS_TRIES + 1)):
        problems.append(f"tries {tries}, expected 1 … {ALWAYS_FAILS_TRIES}")
    if len(letters) != 1:
        problems.append(f"{len(letters)} dead letters for {chaos_always_fails.name}, expected 1")
    elif letters[0].tries != ALWAYS_FAILS_TRIES:
        problems.append(f"the dead letter says {letters[0].tries} tries, expected {ALWAYS_FAILS_TRIES}")
    if info is None or info.success:
        problems.append(f"arq's result for {failing.job_id}: {info}")
    if ok != others or repeats or ok_lines != others:
        problems.append(f"other jobs: {ok}/{others} ran, {repeats} repeats, {ok_lines} 'job done' lines")
    if other_letters:
        problems.append(f"other dead letters: {other_letters}")
    if cli.returncode != 0 or listed != 1:
        problems.append(
            f"`mluv jobs failures` (exit {cli.returncode}) lists it {listed} times: {stdout[-300:]}"
        )
    return Outcome(
        name=name,
        passed=not problems,
        summary=(
            f"{chaos_always_fails.name} (max_tries {ALWAYS_FAILS_TRIES}, backoff 0.5/1/2 s) on 2 fast "
            f"workers: "
            f"tries {tries}, {retry_lines} retries then 'job failed' ×{failed_lines}, {len(letters)} dead "
            f"letter after {dead:.1f} s (listed by `mluv jobs failures`: {listed}), no try after it; "
            f"{ok}/{others} other jobs enqueued meanwhile succeeded ({repeats} repeats)"
        ),
        problems=problems,
        counts=False,
        note=f"tries {len(tries)}, dead letters {len(letters)}, others ok {ok}/{others}",
        details={
            "tries": tries,
            "max_tries": ALWAYS_FAILS_TRIES,
            "dead_letters": [
                {"job_id": row.job_id, "tries": row.tries, "error": row.error, "status": row.status}
                for row in letters
            ],
            "dead_letter_after_seconds": round(dead, 2),
            "retry_lines": retry_lines,
            "failed_lines": failed_lines,
            "others": others,
            "others_ok": ok,
            "others_repeated": repeats,
            "other_dead_letters": other_letters,
            "cli_listed": listed,
            "arq_result_success": None if info is None else info.success,
        },
    )


# --- a learner flooding the bot during a broadcast --------------------------------------------------------

FLOOD_RATE = 50.0  # updates per second from one learner
FLOODER = BASE_ID + 200_000
# The others' rate with the flood against the baseline: below this share, the flood hurt them. On the 2-core
# machine the flood's own CPU (mluv serve, the sandbox in this process) competes with the workers, so the
# product's part is judged by the global pauses the flooder's chat caused (must be 0).
FLOOD_MIN_RATE_SHARE = 0.5


async def flood(st: Stage, user_id: int, stop: asyncio.Event, sent: list[float]) -> None:
    """The learner sends FLOOD_RATE messages per second (through the sandbox: the bot gets them by
    webhook) until `stop`."""
    interval = 1.0 / FLOOD_RATE
    began = time.monotonic()
    pending: set[asyncio.Task[Any]] = set()
    n = 0
    while not stop.is_set():
        task = asyncio.create_task(st.sandbox.send_text(user_id, f"Ahoj {n}, dnes je krásný den."))
        pending.add(task)
        task.add_done_callback(pending.discard)
        sent.append(time.monotonic())
        n += 1
        await asyncio.sleep(max(0.0, began + n * interval - time.monotonic()))
    await asyncio.gather(*pending)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds each process used between start() and stop()."""

    def __init__(self, processes: dict[str, int]) -> None:
        self.processes = processes
        self.began: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        now = {name: cpu_seconds(pid) for name, pid in self.processes.items()}
        now["chaos (sandbox, driver)"] = time.process_time()
        return now

    def start(self) -> None:
        self.began = self._now()

    def stop(self) -> dict[str, float]:
        now = self._now()
        self.used = {name: round(now[name] - self.began[name], 2) for name in now}
        return self.used


async def timed_broadcast(st: Stage, within: float, group: list[int]) -> dict[str, Any]:
    """A broadcast to everyone active; when it completed, and when the last of `group` got it (sandbox
    times: the rate the learners see, apart from any straggler outside the group)."""
    broadcast_id = await new_broadcast(st)
    began_wall, began = time.time(), time.monotonic()
    await enqueue_broadcast(st, broadcast_id)
    done = await wait_completed(st, broadcast_id, within)
    members = set(group)
    times = {
        int(record["chat_id"]): float(record["time"])
        for record in await st.sandbox.latest_messages(limit=10_000)
        if record["text"] == TEXT
    }
    reached = [moment for chat, moment in times.items() if chat in members]
    last = max(reached) - began_wall if reached else float("nan")
    return {
        "id": broadcast_id,
        "seconds": done - began,
        "group_seconds": last,
        "group_rate": len(reached) / last if reached else 0.0,
        "times": times,
        "began_wall": began_wall,
    }


async def flooding_learner(redis_url: str) -> Outcome:
    from mluv.bot.dispatcher import FLOOD_LIMIT, FLOOD_WINDOW_SECONDS

    name, learners = "flooding-learner", 500
    async with stage(redis_url, LOGS / name, limits=broadcast_limits(), **broadcast_settings()) as st:
        baseline_group = await add_learners(st, learners)
        await st.sandbox.create_user(FLOODER, "Záplava", language_code="ru")
        long, fast = st.fleet.start(LONG), st.fleet.start(FAST)
        async with bot_server(st) as server:
            await start(long, fast)
            meter = CpuMeter(
                {"mluv serve": server.process.pid, "long worker": long.pid, "fast worker": fast.pid}
            )
            # Baseline: the same broadcast to as many learners, nobody flooding.
            meter.start()
            baseline = await timed_broadcast(st, 40, baseline_group)
            baseline_cpu = meter.stop()
            baseline_check = await check_broadcast(st, baseline["id"])
            async with st.engine.begin() as connection:  # the baseline audience is gone; a new one comes
                await connection.execute(
                    update(User).where(User.id.in_(baseline_group)).values(is_active=False)
                )
            st.learners = await add_learner_range(st, learners, BASE_ID + 100_000)
            stop, flood_times = asyncio.Event(), list[float]()
            flooding = asyncio.create_task(flood(st, FLOODER, stop, flood_times))
            try:
                await asyncio.sleep(1.5)  # the flood is in full swing before the broadcast starts
                meter.start()
                flooded = await timed_broadcast(st, 40, st.learners)
                flood_cpu = meter.stop()
                await asyncio.sleep(max(0.0, 6.0 - (time.monotonic() - flood_times[0])))
            finally:
                stop.set()
                await flooding
            flood_seconds = flood_times[-1] - flood_times[0]

            async def drained() -> bool:
                return not await st.sandbox.pending_updates()

            await eventually(drained, 20, "the bot to take every flood update")
            await asyncio.sleep(3)  # reviews of the messages that passed are sent by the fast worker
            check = await check_broadcast(st, flooded["id"])
            ledger = await ledger_of(st, flooded["id"])
            counters = await st.sandbox.counters()
            flooder_chat = await st.sandbox.chat(FLOODER)
            async with st.session_factory() as session:
                stored = int(
                    await session.scalar(
                        select(func.count())
                        .select_from(PracticeMessage)
                        .where(PracticeMessage.user_id == FLOODER)
                    )
                    or 0
                )
            handler_errors = server.count("handler failed")
        global_pauses = st.fleet.count("telegram asked us to slow down", chat_id=FLOODER, everyone=True)
    windows = math.ceil(flood_seconds / FLOOD_WINDOW_SECONDS) + 1
    allowed = FLOOD_LIMIT * windows
    replies = int(flooder_chat.get("received", 0))
    flooder_wait = flooded["times"].get(FLOODER, float("nan")) - flooded["began_wall"]
    rate, baseline_rate = flooded["group_rate"], baseline["group_rate"]
    problems = problems_of_check(check, ledger) + [f"baseline: {p}" for p in baseline_check.problems()]
    if stored > allowed:
        problems.append(f"{stored} of the flood's messages got past the throttle, at most {allowed} expected")
    if stored == 0:
        problems.append("no flood message reached the handlers: the bot did not take the updates")
    # Replies to the flooder: per stored message an ack and a review, the flood notice, the broadcast.
    if replies > 2 * stored + 2:
        problems.append(f"the flooder got {replies} messages for {stored} handled")
    if global_pauses:
        problems.append(
            f"the flooder's chat paused every sender {global_pauses}× (a 429 on that one chat penalised the "
            f"global schedule, retry_after each): the others got the broadcast at {rate:.0f}/s vs "
            f"{baseline_rate:.0f}/s without the flood"
        )
    if rate < FLOOD_MIN_RATE_SHARE * baseline_rate:
        problems.append(
            f"the other learners got the broadcast at {rate:.0f}/s, {baseline_rate:.0f}/s without the flood "
            f"(CPU s during the broadcast: {flood_cpu} vs {baseline_cpu})"
        )
    if handler_errors:
        problems.append(f"{handler_errors} 'handler failed' lines in serve.log")
    return check.outcome(
        name,
        (
            f"one learner sent {len(flood_times)} messages in {flood_seconds:.1f} s "
            f"({len(flood_times) / max(flood_seconds, 0.1):.0f}/s) to `mluv serve` (webhook) during a "
            f"broadcast to {learners} others: {stored} passed the throttle ({FLOOD_LIMIT} per "
            f"{FLOOD_WINDOW_SECONDS} s: ≤ {allowed}), {replies} messages back to the flooder; the others got "
            f"it at {rate:.0f}/s (last after {flooded['group_seconds']:.1f} s) vs {baseline_rate:.0f}/s "
            f"({baseline['group_seconds']:.1f} s) without the flood; the flooder's own copy after "
            f"{flooder_wait:.1f} s (its chat's backlog), completed in {flooded['seconds']:.1f} s; global "
            f"pauses caused by the flooder's chat {global_pauses}; lost {len(check.lost)}, duplicated "
            f"{len(check.duplicated)}, unknown {check.unknown}"
        ),
        problems,
        note=(
            f"flood {len(flood_times)} msgs → {stored} handled (≤ {allowed}), {replies} replies; "
            f"broadcast {rate:.0f}/s vs baseline {baseline_rate:.0f}/s"
        ),
        details={
            "flood_updates": len(flood_times),
            "flood_seconds": round(flood_seconds, 2),
            "flood_handled": stored,
            "flood_allowed": allowed,
            "flood_replies": replies,
            "webhook_delivered": int(counters["webhook_delivered"]),
            "webhook_failed": int(counters["webhook_failed"]),
            "others_seconds": round(flooded["group_seconds"], 2),
            "others_rate": round(rate, 1),
            "baseline_seconds": round(baseline["group_seconds"], 2),
            "baseline_rate": round(baseline_rate, 1),
            "completed_seconds": round(flooded["seconds"], 2),
            "baseline_completed_seconds": round(baseline["seconds"], 2),
            "flooder_copy_after_seconds": round(flooder_wait, 2),
            "global_pauses_for_flooder_chat": global_pauses,
            "cpu_seconds_baseline": baseline_cpu,
            "cpu_seconds_flooded": flood_cpu,
            "baseline": {"lost": len(baseline_check.lost), "duplicated": len(baseline_check.duplicated)},
            "handler_errors": handler_errors,
        },
    )


# --- the same broadcast requested 10 times ----------------------------------------------------------------

REQUESTS = 10


async def broadcast_requested_10x(redis_url: str) -> Outcome:
    from mluv.bot.keyboards import BroadcastAction
    from mluv.i18n import t
    from mluv.jobs.connections import create_arq_pool
    from workers.broadcasts import broadcast

    name, learners = "broadcast-requested-10x", 500
    async with stage(redis_url, LOGS / name, limits=broadcast_limits(), **broadcast_settings()) as st:
        await add_learners(st, learners)
        long, fast = st.fleet.start(LONG), st.fleet.start(FAST)
        async with bot_server(st) as server:
            await start(long, fast)
            await st.sandbox.send_text(ADMIN_ID, f"/broadcast {TEXT}")
            (confirm,) = await st.sandbox.messages(ADMIN_ID, wait_for=1, within=15)

            async def draft() -> int | None:
                async with st.session_factory() as session:
                    found: int | None = await session.scalar(
                        select(Broadcast.id).where(Broadcast.status == "draft")
                    )
                    return found

            broadcast_id = int(await eventually(draft, 10, f"a draft (the bot answered {confirm['text']!r})"))
            data = BroadcastAction(action="confirm", broadcast_id=broadcast_id).pack()
            began = time.monotonic()
            # The admin taps Confirm 10 times at once: 10 callback updates, delivered concurrently.
            await asyncio.gather(
                *(st.sandbox.press_button(ADMIN_ID, confirm["message_id"], data) for _ in range(REQUESTS))
            )

            async def decided() -> bool:
                # Running: the Confirm handler's own enqueue has happened (it follows the status change),
                # so an extra request below that created a job would be a second one, not a lucky first.
                return await broadcast_status_of(st, broadcast_id) in {"running", "completed"}

            await eventually(decided, 15, "the broadcast to be confirmed and started")
            # ... and 10 more requests of the same broadcast from other paths at once (a retried HTTP call,
            # the reconciler, a scheduled post): the job id broadcast:{id} lets none through.
            pools = [await create_arq_pool(st.redis_url) for _ in range(REQUESTS)]
            try:
                jobs = await asyncio.gather(
                    *(broadcast.enqueue(pool, broadcast_id=broadcast_id) for pool in pools)
                )
            finally:
                for pool in pools:
                    await pool.aclose()
            done = await wait_completed(st, broadcast_id, 40)

            async def answered() -> list[Any]:
                calls = [c for c in await st.sandbox.callbacks() if c["data"] == data]
                return calls if len(calls) >= REQUESTS and all(c["answered"] for c in calls) else []

            callbacks = await eventually(answered, 15, "every tap to be answered")
            check = await check_broadcast(st, broadcast_id)
            ledger = await ledger_of(st, broadcast_id)
            async with st.session_factory() as session:
                broadcasts = int(await session.scalar(select(func.count()).select_from(Broadcast)) or 0)
                audience = int(
                    await session.scalar(select(Broadcast.total).where(Broadcast.id == broadcast_id)) or 0
                )
            confirmed_text = t("uk", "broadcast-confirmed", count=audience).split(":")[0]

            async def confirm_message() -> dict[str, Any]:
                (found,) = [
                    m for m in await st.sandbox.messages(ADMIN_ID) if m["message_id"] == confirm["message_id"]
                ]
                return cast(dict[str, Any], found)

            async def edited() -> bool:
                record = await confirm_message()
                return any((edit["text"] or "").startswith(confirmed_text) for edit in record["edits"])

            # The edit waits its turn in the shared limiter behind the broadcast: it may land after it.
            with contextlib.suppress(ScenarioError):
                await eventually(edited, 15, "the confirm message to say 'confirmed'")
            record = await confirm_message()
            handler_errors = server.count("handler failed")
        runs = st.fleet.count("job done", job_name="broadcast")
    confirmations = sum(1 for edit in record["edits"] if (edit["text"] or "").startswith(confirmed_text))
    created = sum(1 for job in jobs if job is not None)
    problems = problems_of_check(check, ledger)
    if broadcasts != 1:
        problems.append(f"{broadcasts} broadcasts in the table, expected 1")
    if runs != 1:
        problems.append(f"the broadcast job ran {runs} times")
    if confirmations != 1:
        problems.append(f"the confirm message was switched to 'confirmed' {confirmations} times")
    if created:
        problems.append(f"{created} of the {REQUESTS} extra enqueues created a job")
    if handler_errors:
        problems.append(f"{handler_errors} 'handler failed' lines in serve.log")
    return check.outcome(
        name,
        (
            f"{learners} learners; Confirm tapped {REQUESTS}× at once ({len(callbacks)} callbacks answered, "
            f"{confirmations} decided) and {REQUESTS} concurrent enqueues of broadcast:{broadcast_id} "
            f"({created} created): {broadcasts} broadcast, its job run {runs}×; {check.one_message} with "
            f"exactly one message, lost {len(check.lost)}, duplicated {len(check.duplicated)}, unknown "
            f"{check.unknown}, in {done - began:.1f} s"
        ),
        problems,
        note=f"broadcasts sent {runs}, exactly one message {check.one_message}/{learners}",
        details={
            "taps": REQUESTS,
            "callbacks_answered": len(callbacks),
            "decided": confirmations,
            "extra_enqueues": REQUESTS,
            "extra_enqueues_created": created,
            "broadcasts": broadcasts,
            "broadcast_job_runs": runs,
            "total_seconds": round(done - began, 2),
        },
    )


async def broadcast_status_of(st: Stage, broadcast_id: int) -> str:
    async with st.session_factory() as session:
        return str(await session.scalar(select(Broadcast.status).where(Broadcast.id == broadcast_id)))


FAULT_SCENARIOS: dict[str, tuple[Scenario, float]] = {
    # name: (scenario, its timeout in seconds)
    "daily-cron-sigterm": (daily_cron_sigterm, 75.0),
    "redis-stopped-30s": (redis_stopped_30s, 110.0),
    "postgres-dropped-20s": (postgres_dropped_20s, 100.0),
    "rate-limited-10pct": (rate_limited_10pct, 75.0),
    "blocked-5pct": (blocked_5pct, 60.0),
    "always-failing-job": (always_failing_job, 75.0),
    "flooding-learner": (flooding_learner, 90.0),
    "broadcast-requested-10x": (broadcast_requested_10x, 75.0),
}
