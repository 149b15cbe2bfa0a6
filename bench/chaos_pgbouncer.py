"""`pgbouncer-transaction`: PgBouncer (Debian's package) in transaction mode in front of the scenario's
database, and every process of the product talking to it only through PgBouncer.

A long and a fast `mluv worker`, and `mluv serve` (webhook), all with DATABASE_URL = PgBouncer and
DATABASE_POOLER=pgbouncer-transaction, share a server pool of PGBOUNCER_POOL_SIZE connections. Meanwhile:
a broadcast to LEARNERS learners; WRITERS other learners each write a message to the bot (the handler
records it, `review_message` reviews it and sends the feedback); the `health_check` cron every 2 s; and the
daily statistics cron caught up at the long worker's start. Passes when the broadcast completed with lost 0
and duplicated 0, every message got its one feedback, the crons succeeded, no dead letter, and no process
log mentions a prepared statement ("prepared statement ... does not exist / already exists").

`run_pgbouncer` is also what tests/db/test_pgbouncer.py starts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import func, select

from bench.chaos_common import (
    FAST,
    LOGS,
    LONG,
    Outcome,
    add_learners,
    bot_server,
    broadcast_limits,
    broadcast_settings,
    check_broadcast,
    enqueue_broadcast,
    eventually,
    last_tick_or_skip,
    log_records,
    new_broadcast,
    stage,
    start,
    wait_completed,
)
from mluv.db.models import CronRun, Delivery, DeliveryStatus, JobFailure
from mluv.db.models import Message as PracticeMessage
from workers.analytics import calculate_all_users_daily_stats as daily

# Where Debian installs it; /usr/sbin is not on every user's PATH.
PGBOUNCER_PATHS = ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin")
# What asyncpg says when a statement meets the wrong server connection.
PREPARED_STATEMENT_ERRORS = ("prepared statement", "DuplicatePreparedStatement", "InvalidSQLStatementName")


def pgbouncer_binary() -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", ""), *PGBOUNCER_PATHS])
    return shutil.which("pgbouncer", path=path)


@dataclass
class PgBouncer:
    """A running pgbouncer in front of one PostgreSQL server."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def url(self, database_url: str) -> str:
        """`database_url` (a database on the fronted server) reached through this PgBouncer instead."""
        parts = urlsplit(database_url)
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def run_pgbouncer(
    server_url: str, log_path: Path, *, pool_size: int = 5, max_client_conn: int = 1000
) -> Iterator[PgBouncer]:
    """pgbouncer in transaction mode on a free loopback port, forwarding every database to the server of
    `server_url` as its user (auth_type any: the test server trusts loopback); its log in `log_path`."""
    binary = pgbouncer_binary()
    if binary is None:
        raise FileNotFoundError("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    server = urlsplit(server_url)
    port = _free_port()
    # Run as root, pgbouncer must switch to another user, who then reads these files: a world-readable dir.
    directory = Path(tempfile.mkdtemp(prefix="mluv-pgbouncer-"))
    directory.chmod(0o755)
    ini = directory / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={server.hostname or '127.0.0.1'} port={server.port or 5432} "
        f"user={server.username or 'postgres'}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = any\npool_mode = transaction\n"
        f"default_pool_size = {pool_size}\nmin_pool_size = 0\nreserve_pool_size = 0\n"
        f"max_client_conn = {max_client_conn}\n"
        # Logs go to stderr, into log_path (opened here, as this user).
        "logfile =\nlog_connections = 0\nlog_disconnections = 0\n"
    )
    ini.chmod(0o644)
    argv = [binary, *(["-u", "nobody"] if os.geteuid() == 0 else []), str(ini)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    bouncer = PgBouncer(port=port, process=process, log_path=log_path)
    try:
        deadline = time.monotonic() + 15
        while not _accepts(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not start:\n{bouncer.output()[-2000:]}")
            time.sleep(0.05)
        yield bouncer
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(directory, ignore_errors=True)


# --- the scenario -------------------------------------------------------------------------------------------

LEARNERS = 500
WRITERS = 20
WRITER_BASE_ID = 930_000_000
PGBOUNCER_POOL_SIZE = 8  # server connections for ~3 processes × 20 client connections
HEALTH_CHECK_SECONDS = 2
MIN_HEALTH_CHECKS = 3


def prepared_statement_lines(path: Path) -> list[str]:
    """Lines of a process log that mention a prepared statement (none is the pass mark)."""
    text = path.read_text(errors="replace") if path.exists() else ""
    return [line[:300] for line in text.splitlines() if any(m in line for m in PREPARED_STATEMENT_ERRORS)]


async def pgbouncer_transaction(redis_url: str) -> Outcome:
    name = "pgbouncer-transaction"
    if pgbouncer_binary() is None:
        return Outcome(name, passed=True, summary="skipped: pgbouncer not installed", skipped="no pgbouncer")
    tick = last_tick_or_skip(name, daily)
    daily_key = None if isinstance(tick, Outcome) else daily.business_key(tick)
    settings = broadcast_settings(HEALTH_CHECK_CRON_SECONDS=str(HEALTH_CHECK_SECONDS))
    logs = LOGS / name
    async with stage(redis_url, logs, limits=broadcast_limits(), **settings) as st:
        with run_pgbouncer(st.database_url, logs / "pgbouncer.log", pool_size=PGBOUNCER_POOL_SIZE) as bouncer:
            # Every process of the product reaches the database only through PgBouncer from here on.
            st.fleet.env.update(
                DATABASE_URL=bouncer.url(st.database_url), DATABASE_POOLER="pgbouncer-transaction"
            )
            await add_learners(st, LEARNERS)
            writers = [WRITER_BASE_ID + i for i in range(WRITERS)]
            for writer in writers:
                await st.sandbox.create_user(writer, "Píšící", language_code="uk")
            long, fast = st.fleet.start(LONG), st.fleet.start(FAST)
            await start(long, fast)
            async with bot_server(st):
                broadcast_id = await new_broadcast(st)
                began = time.monotonic()
                await enqueue_broadcast(st, broadcast_id)

                async def snapshot() -> bool:
                    # Writers write once the audience is fixed, so they are not in the broadcast.
                    async with st.session_factory() as session:
                        rows = await session.scalar(
                            select(func.count())
                            .select_from(Delivery)
                            .where(Delivery.business_key == f"broadcast:{broadcast_id}")
                        )
                    return int(rows or 0) >= LEARNERS

                await eventually(snapshot, 60, "the broadcast's audience")
                for n, writer in enumerate(writers):
                    await st.sandbox.send_text(writer, f"Dnes jsem byl v parku a četl jsem knihu {n}.")
                done = await wait_completed(st, broadcast_id, 90)

                async def reviewed() -> int:
                    async with st.session_factory() as session:
                        sent = await session.scalar(
                            select(func.count())
                            .select_from(Delivery)
                            .where(Delivery.kind == "feedback", Delivery.status == DeliveryStatus.SENT)
                        )
                    return int(sent or 0) if int(sent or 0) >= WRITERS else 0

                feedback = int(await eventually(reviewed, 60, f"feedback to {WRITERS} messages"))

                async def cron_rows() -> list[tuple[str, str, str, int]]:
                    async with st.session_factory() as session:
                        rows = await session.execute(
                            select(CronRun.cron_name, CronRun.business_key, CronRun.status, CronRun.attempts)
                        )
                    return [(str(a), str(b), str(c), int(d)) for a, b, c, d in rows.all()]

                async def crons_done() -> bool:
                    rows = await cron_rows()
                    checks = [r for r in rows if r[0] == "health_check" and r[2] == "succeeded"]
                    daily_done = daily_key is None or (daily.name, daily_key, "succeeded", 1) in rows
                    return len(checks) >= MIN_HEALTH_CHECKS and daily_done

                await eventually(crons_done, 60, "the health_check and daily statistics cron runs")
                crons = await cron_rows()
                check = await check_broadcast(st, broadcast_id)
                async with st.session_factory() as session:
                    messages = await session.scalar(
                        select(func.count())
                        .select_from(PracticeMessage)
                        .where(PracticeMessage.user_id.in_(writers))
                    )
                    dead_letters = await session.scalar(select(func.count()).select_from(JobFailure))
            await st.fleet.close()
            # Read after the workers stopped: a minute cron (reconcile_deliveries) may be mid-run at the
            # check above, and its first run in a worker is slower now that it loads the ORM then.
            crons = await cron_rows()
        process_logs = [worker.log_path for worker in st.fleet.workers] + [logs / "serve.log"]
        errors = {path.name: prepared_statement_lines(path) for path in process_logs}
        # Each process logged its connection budget at start, naming PgBouncer.
        budget_lines = sum(
            1
            for path in process_logs
            for record in log_records(path)
            if str(record.get("event", "")).startswith("database connection budget")
            and record.get("pooler") == "pgbouncer-transaction"
        )
        failed_runs = [r for r in crons if r[2] != "succeeded"]
    error_count = sum(len(lines) for lines in errors.values())
    health_checks = sum(1 for r in crons if r[0] == "health_check" and r[2] == "succeeded")
    problems = check.problems()
    if error_count:
        problems.append(f"{error_count} prepared-statement lines in the logs: {errors}")
    if int(messages or 0) != WRITERS:
        problems.append(f"{messages} writers' messages stored, expected {WRITERS}")
    if feedback != WRITERS:
        problems.append(f"{feedback} feedback messages sent for {WRITERS} messages")
    if dead_letters:
        problems.append(f"{dead_letters} dead letters")
    if failed_runs:
        problems.append(f"cron runs not succeeded: {failed_runs}")
    daily_note = "caught up" if daily_key else "not checked (too close to its tick)"
    return check.outcome(
        name,
        (
            f"{LEARNERS} learners through PgBouncer (transaction mode, {PGBOUNCER_POOL_SIZE} server "
            f"connections): {check.tally()}; {WRITERS} messages → {feedback} reviews sent; "
            f"{health_checks} health_check runs, daily statistics {daily_note}; prepared-statement errors "
            f"{error_count}; broadcast {done - began:.1f} s"
        ),
        problems,
        note=f"prepared-statement errors {error_count}",
        details={
            "pgbouncer_pool_size": PGBOUNCER_POOL_SIZE,
            "writers": WRITERS,
            "writer_messages": int(messages or 0),
            "feedback_sent": feedback,
            "health_checks": health_checks,
            "daily_key": daily_key,
            "cron_runs": len(crons),
            "prepared_statement_errors": errors,
            "budget_lines": budget_lines,
            "broadcast_seconds": round(done - began, 2),
        },
    )


PGBOUNCER_SCENARIOS = {"pgbouncer-transaction": (pgbouncer_transaction, 150.0)}
