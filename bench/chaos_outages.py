"""Outage scenarios of bench/chaos.py: every worker down for longer than a deferred job's arq expiry, and
the webhook process SIGKILLed and restarted while Telegram redelivers.

- workers-down-past-expiry: must-run jobs (deferred messages, scheduled posts) and stale-after jobs
  (reminders, challenge nudges) are queued while no worker runs, through a pool whose arq expiry is
  OLD_EXPIRY seconds past the due time (a day in production: the same rule, compressed); the outage lasts
  OUTAGE seconds, past it (control jobs without a policy expire meanwhile). A worker then starts: each
  must-run delivery sent exactly once, each stale one skipped ("job skipped: stale"), nothing sent for
  them. The stale jobs were due STALE_DUE_AGO ago (their hour long past when the workers come back).
- webhook-restart-redelivery: `mluv serve` (webhook) and a fast worker; LEARNERS learners write once
  each; halfway the web process is SIGKILLed with updates in flight and a new one starts on the same
  port; the sandbox retries every failed webhook POST as Telegram does: each message stored once and
  answered (its feedback) once, none lost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select, update

from bench.chaos_common import (
    ADMIN_ID,
    BIN,
    FAST,
    LOGS,
    REPO_ROOT,
    BotServer,
    Outcome,
    Scenario,
    ScenarioError,
    Stage,
    add_learners,
    broadcast_limits,
    broadcast_settings,
    eventually,
    log_records,
    stage,
    start,
)
from mluv.db.models import JobFailure, ScheduledMessage, User
from mluv.db.models import Message as PracticeMessage

# --- workers down past the expiry -------------------------------------------------------------------------

MESSAGES = 40  # deferred send_message jobs (must run)
POSTS = 10  # scheduled posts to single learners (must run: the posts table)
REMINDERS = 20  # streak reminders (stale after 1 h)
NUDGES = 20  # challenge nudges (stale after 30 min)
CONTROLS = 5  # jobs without a policy: arq's expiry, to show the outage outlasted it
OLD_EXPIRY = 5.0  # the enqueueing pool's arq expiry past the due time (production: a day)
OUTAGE = 20.0
STALE_DUE_AGO = dt.timedelta(hours=2)


async def _enqueue_mix(st: Stage, learners: list[int]) -> dict[str, list[str]]:
    """The mix, enqueued as the producers do (deferred, deterministic ids), through a short-expiry pool."""
    from mluv.jobs.connections import redis_settings
    from mluv.jobs.queues import Queue
    from mluv.jobs.wake import create_waking_pool
    from workers.messaging import send_message
    from workers.notifications import send_daily_challenge_notification, send_streak_reminder

    pool = await create_waking_pool(
        redis_settings(st.redis_url),
        default_queue_name=Queue.FAST.value,
        expires_extra_ms=int(OLD_EXPIRY * 1000),
    )
    ids: dict[str, list[str]] = {"message": [], "reminder": [], "nudge": [], "control": []}
    today = dt.datetime.now(dt.UTC).date()
    due_ago = dt.datetime.now(dt.UTC) - STALE_DUE_AGO
    try:
        for i in range(MESSAGES):
            job = await send_message.options(defer_by=1 + i % 3).enqueue(
                pool, chat_id=learners[i], text=f"Lekce {i} začíná zítra v 18:00.", business_key=f"lesson:{i}"
            )
            ids["message"].append(job.job_id if job else "")
        stale = learners[MESSAGES + POSTS :]
        for user_id in stale[:REMINDERS]:
            job = await send_streak_reminder.options(defer_until=due_ago).enqueue(
                pool, user_id=user_id, day=today
            )
            ids["reminder"].append(job.job_id if job else "")
        for user_id in stale[REMINDERS : REMINDERS + NUDGES]:
            job = await send_daily_challenge_notification.options(defer_until=due_ago).enqueue(
                pool, user_id=user_id, day=today, count=3
            )
            ids["nudge"].append(job.job_id if job else "")
        for i in range(CONTROLS):
            job = await pool.enqueue_job(
                "chaos_control_no_policy", _defer_by=1, _queue_name=Queue.FAST.value, i=i
            )
            ids["control"].append(job.job_id if job else "")
    finally:
        await pool.aclose()
    if not all(all(found) for found in ids.values()):
        raise ScenarioError(f"some jobs were not enqueued: {ids}")
    return ids


async def _schedule_posts(st: Stage, learners: list[int], send_at: dt.datetime) -> None:
    async with st.session_factory.begin() as session:
        session.add_all(
            ScheduledMessage(
                created_by=ADMIN_ID,
                target="user",
                chat_id=user_id,
                text=f"📅 Plánovaný příspěvek pro {user_id}.",
                send_at=send_at,
            )
            for user_id in learners
        )


async def _stale_learners(st: Stage, learners: list[int]) -> None:
    """Reminders on and active today (UTC): a reminder to them would be sent, were it not stale."""
    now = dt.datetime.now(dt.UTC)
    async with st.engine.begin() as connection:
        await connection.execute(
            update(User)
            .where(User.id.in_(learners))
            .values(reminders_enabled=True, timezone="UTC", last_active_at=now - dt.timedelta(days=1))
        )


async def workers_down_past_expiry(redis_url: str) -> Outcome:
    name = "workers-down-past-expiry"
    total = MESSAGES + POSTS + REMINDERS + NUDGES
    async with stage(redis_url, LOGS / name, limits=broadcast_limits(), **broadcast_settings()) as st:
        learners = await add_learners(st, total)
        must = learners[: MESSAGES + POSTS]
        stale = learners[MESSAGES + POSTS :]
        await _stale_learners(st, stale)
        # A worker ran, then every worker stopped (the outage); what is queued now waits for them.
        first = st.fleet.start(FAST)
        await first.started()
        first.terminate()
        await first.exited(40)
        down = time.monotonic()
        ids = await _enqueue_mix(st, learners)
        await _schedule_posts(st, learners[MESSAGES : MESSAGES + POSTS], dt.datetime.now(dt.UTC))

        async def controls_expired() -> bool:
            return not any([await st.redis.exists(f"arq:job:{job_id}") for job_id in ids["control"]])

        await eventually(controls_expired, OUTAGE, "the control jobs' arq keys to expire")
        await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - down)))  # the outage itself
        kept = sum([await st.redis.exists(f"arq:job:{job_id}") for job_id in ids["message"]])
        outage = time.monotonic() - down
        worker = st.fleet.start(FAST)
        await start(worker)
        began = time.monotonic()

        async def must_sent() -> bool:
            received = {int(chat["id"]): int(chat["received"]) for chat in await st.sandbox.chats()}
            return all(received.get(user_id, 0) >= 1 for user_id in must)

        # Scheduled posts wait for the next minute's send_scheduled_messages tick (at :00).
        await eventually(must_sent, 90, "every must-run delivery")
        recovered = time.monotonic() - began

        async def stale_settled() -> bool:
            return st.fleet.count("job skipped: stale") >= REMINDERS + NUDGES

        await eventually(stale_settled, 30, "the stale jobs to be skipped")
        await asyncio.sleep(3)  # a window for a second send of anything to show up
        received = {int(chat["id"]): int(chat["received"]) for chat in await st.sandbox.chats()}
        async with st.session_factory() as session:
            letters = list(await session.scalars(select(JobFailure.error)))
        skipped = Counter(
            str(record.get("job_name"))
            for record in worker.records()
            if record.get("event") == "job skipped: stale"
        )
    lost = [user_id for user_id in must if received.get(user_id, 0) == 0]
    duplicated = [user_id for user_id in must if received.get(user_id, 0) > 1]
    stale_sent = sum(received.get(user_id, 0) for user_id in stale)
    expired = sum(1 for error in letters if "job expired" in error)
    problems = []
    if lost or duplicated:
        problems.append(
            f"must-run: lost {lost[:5]} ({len(lost)}), duplicated {duplicated[:5]} ({len(duplicated)})"
        )
    if stale_sent:
        problems.append(f"{stale_sent} messages sent to learners whose reminders/nudges were stale")
    if sum(skipped.values()) != REMINDERS + NUDGES:
        problems.append(f"stale skips logged {dict(skipped)}, expected {REMINDERS + NUDGES}")
    if expired != CONTROLS or len(letters) != CONTROLS:
        problems.append(f"dead letters {letters[:5]}: expected {CONTROLS} control jobs expired, nothing else")
    sent_once = len(must) - len(lost) - len(duplicated)
    return Outcome(
        name=name,
        passed=not problems,
        summary=(
            f"no worker for {outage:.0f} s (arq expiry {OLD_EXPIRY:g} s past due, a day in production): "
            f"{CONTROLS} jobs without a policy expired unrun (dead letters 'job expired'), the {MESSAGES} "
            f"deferred messages kept ({kept} arq keys alive); a worker started: must-run {sent_once}/"
            f"{len(must)} sent exactly once ({MESSAGES} messages + {POSTS} scheduled posts), stale "
            f"{sum(skipped.values())}/{REMINDERS + NUDGES} skipped ({dict(skipped)}), {stale_sent} sent"
        ),
        lost=len(lost),
        duplicated=len(duplicated),
        recovered_seconds=round(recovered, 2),
        problems=problems,
        note=(
            f"must-run sent once {sent_once}/{len(must)}, "
            f"stale skipped {sum(skipped.values())}/{REMINDERS + NUDGES}"
        ),
        details={
            "outage_seconds": round(outage, 1),
            "old_expiry_seconds": OLD_EXPIRY,
            "must_run": len(must),
            "must_run_keys_kept": kept,
            "stale_skipped": dict(skipped),
            "stale_sent": stale_sent,
            "dead_letters": Counter(letters),
        },
    )


# --- the webhook process restarted ------------------------------------------------------------------------

LEARNERS = 120
SPACING = 0.02  # between learners' messages: ~40 updates/s
TEXTS = (
    "Dnes jsem byl v obchodě a koupil jsem chleba.",
    "Zítra pojedu vlakem do Brna.",
    "Mám rád českou kuchyni.",
)


class WebProcess:
    """`mluv serve --no-migrate` as BotServer starts it, on a port the restarted one keeps (one log each)."""

    def __init__(self, st: Stage, port: int, log_path: Path) -> None:
        url = f"http://127.0.0.1:{port}{BotServer.PATH}"
        env = {
            **st.fleet.env,
            "WEB_HOST": "127.0.0.1",
            "WEB_PORT": str(port),
            "WEBHOOK_URL": url,
            "WEBHOOK_SECRET": BotServer.SECRET,
            "WORKERS_IN_PROCESS": "false",
            "ADMIN_IDS": str(ADMIN_ID),
        }
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(BIN / "mluv"), "serve", "--no-migrate"],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def started(self, within: float = 60) -> None:
        async def ready() -> bool:
            if self.process.poll() is not None:
                raise ScenarioError(
                    f"mluv serve exited:\n{self.log_path.read_text(errors='replace')[-3000:]}"
                )
            return "receiving updates by webhook" in self.log_path.read_text(errors="replace")

        await eventually(ready, within, f"mluv serve (pid {self.process.pid}) to set its webhook")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    async def stop(self) -> None:
        from bench.common import terminate

        if self.process.poll() is None:
            await terminate(self.process, 30)


async def webhook_restart_redelivery(redis_url: str) -> Outcome:
    from mluv.embedded import free_tcp_port

    name = "webhook-restart-redelivery"
    async with stage(redis_url, LOGS / name) as st:
        learners = await add_learners(st, LEARNERS)
        st.fleet.start(FAST)
        port = free_tcp_port()
        web = WebProcess(st, port, st.logs / "serve-1.log")
        restarted: WebProcess | None = None
        try:
            await web.started()
            counters = await st.sandbox.counters()
            delivered_before = int(counters["webhook_delivered"])
            sent_ids: list[int] = []
            killed_at = 0.0
            for index, user_id in enumerate(learners):
                update = await st.sandbox.send_text(user_id, TEXTS[index % len(TEXTS)])
                sent_ids.append(int(update["update_id"]))
                if index == LEARNERS // 2:
                    web.kill()  # SIGKILL with updates in flight: Telegram gets no answer for them
                    killed_at = time.monotonic()
                    restarted = WebProcess(st, port, st.logs / "serve-2.log")
                await asyncio.sleep(SPACING)
            assert restarted is not None
            await restarted.started()
            back = time.monotonic()

            async def all_delivered() -> bool:
                return not await st.sandbox.pending_updates()

            await eventually(all_delivered, 90, "every update to be delivered to the webhook")

            async def answered() -> bool:
                received = {int(chat["id"]): int(chat["received"]) for chat in await st.sandbox.chats()}
                return all(received.get(user_id, 0) >= 1 for user_id in learners)

            await eventually(answered, 90, "every learner's feedback")
            recovered = time.monotonic() - killed_at
            await asyncio.sleep(3)  # a window for a second answer to show up
            counters = await st.sandbox.counters()
            received = {int(chat["id"]): int(chat["received"]) for chat in await st.sandbox.chats()}
            async with st.session_factory() as session:
                rows = await session.execute(
                    select(PracticeMessage.user_id, func.count()).group_by(PracticeMessage.user_id)
                )
                stored = {int(user_id): int(count) for user_id, count in rows.all()}
        finally:
            for process in (web, restarted):
                if process is not None:
                    await process.stop()
    failed_posts = int(counters["webhook_failed"])
    delivered = int(counters["webhook_delivered"]) - delivered_before
    # A redelivered update the killed process had stored: the restarted one stores nothing new for it.
    errors = sum(
        1
        for path in ("serve-1.log", "serve-2.log")
        for r in log_records(st.logs / path)
        if r.get("level") == "error"
    )
    lost = [user_id for user_id in learners if stored.get(user_id, 0) == 0 or received.get(user_id, 0) == 0]
    duplicated = [
        user_id for user_id in learners if stored.get(user_id, 0) > 1 or received.get(user_id, 0) > 1
    ]
    problems = []
    if lost:
        problems.append(f"{len(lost)} learners without a stored message or an answer, e.g. {lost[:5]}")
    if duplicated:
        problems.append(f"{len(duplicated)} learners stored or answered twice, e.g. {duplicated[:5]}")
    if not failed_posts:
        problems.append(
            "no webhook POST failed: the kill hit no update in flight, the scenario tested nothing"
        )
    answered_total = sum(received.get(user_id, 0) for user_id in learners)
    return Outcome(
        name=name,
        passed=not problems,
        summary=(
            f"{LEARNERS} updates sent (one per learner, ~{1 / SPACING:.0f}/s), `mluv serve` SIGKILLed after "
            f"{LEARNERS // 2 + 1} and restarted on the same port ({back - killed_at:.1f} s to its webhook); "
            f"the sandbox retried {failed_posts} failed webhook POSTs ({delivered} answered 200 in all): "
            f"stored {sum(stored.values())}, answered {answered_total}, lost {len(lost)}, "
            f"duplicated {len(duplicated)}"
        ),
        lost=len(lost),
        duplicated=len(duplicated),
        recovered_seconds=round(recovered, 2),
        problems=problems,
        note=(
            f"updates {LEARNERS}, failed POSTs redelivered {failed_posts}, "
            f"stored {sum(stored.values())}, answered {answered_total}"
        ),
        details={
            "updates_sent": LEARNERS,
            "webhook_failed_posts": failed_posts,
            "webhook_delivered": delivered,
            "stored": sum(stored.values()),
            "answered": answered_total,
            "lost_ids": lost[:20],
            "duplicated_ids": duplicated[:20],
            "restart_seconds": round(back - killed_at, 2),
            "web_error_lines": errors,
        },
    )


OUTAGE_SCENARIOS: dict[str, tuple[Scenario, float]] = {
    "workers-down-past-expiry": (workers_down_past_expiry, 180.0),
    "webhook-restart-redelivery": (webhook_restart_redelivery, 150.0),
}
