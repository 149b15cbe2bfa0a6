"""Gamification: streak resets by each learner's local day, and streak milestones with star bonuses.

    job                                queue  tries  job id / schedule (UTC)
    award_streak_milestones(user_id, day)  fast  5   milestones:{user_id}:{day} (the learner's local day)
    check_and_reset_streaks            long   3      hourly at :05

Why hourly rather than once a day: a streak breaks when the learner's *local* yesterday had no practice,
and local midnight falls at a different UTC hour in every timezone. A daily 00:05 UTC run would reset New
York streaks almost a day late and Almaty ones five hours late; an hourly run resets each within an hour
of the learner's midnight. Every run is idempotent (a reset streak is no longer running, so running the
same tick or date again changes nothing) and self-healing (the condition is the streak's state, not an
event, so a run missed during an outage is made up by the next one). Readers never depend on it:
streak_as_of and advance_streak already treat a stale streak as broken.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mluv.domain.gamification import Award, due_awards, total_stars
from mluv.domain.progress import local_date
from mluv.jobs import CronRun, JobContext, Queue, cron, job
from mluv.jobs.retry import BATCH_RETRY, DELIVERY_RETRY
from mluv.logs import get_logger
from mluv.resources import Resources

# The database, Telegram and heavy domain modules are imported by the jobs: a worker starts without them.
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = get_logger(__name__)

MILESTONE_KIND = "milestone"


async def record_awards(
    session: AsyncSession,
    user_id: int,
    awards: Sequence[Award],
    texts: Mapping[int, str],
    *,
    job_id: str | None,
) -> None:
    """Mark `awards` as given, add their stars and queue their congratulations (pending ledger rows), in
    the caller's transaction: a transactional outbox. `texts` maps a milestone's days to its message.
    Call with the streak row locked (lock_milestones)."""
    from mluv.db.gamification import mark_awarded
    from mluv.telegram import ledger

    await mark_awarded(session, user_id, awards)
    await ledger.add_pending(
        session,
        kind=MILESTONE_KIND,
        recipient_id=user_id,
        payloads={award.business_key: ledger.text_payload(texts[award.days]) for award in awards},
        job_id=job_id,
    )


# One award check per learner and local day (`day`, the day the streak changed): it changes once a day.
@job(queue=Queue.FAST, retry=DELIVERY_RETRY, job_id="milestones:{user_id}:{day}", must_run=True)
async def award_streak_milestones(ctx: JobContext[Resources], user_id: int, day: dt.date) -> dict[str, Any]:
    """Award every streak milestone the learner reached and never got: stars and a congratulation, once.

    The award (milestones_awarded, stars, a pending ledger row with the text) commits in one transaction
    under the streak's row lock, so concurrent runs award once; the congratulations are then sent from
    the ledger, so a run that crashed after the commit still sends them, and never twice.
    """
    from mluv.db.gamification import lock_milestones
    from mluv.i18n import t
    from mluv.telegram import ledger

    session_factory = ctx.resources.session_factory
    async with session_factory.begin() as session:
        state = await lock_milestones(session, user_id)
        awards = due_awards(state.current, state.awarded) if state is not None else []
        if state is not None and awards:
            texts = {
                award.days: t(state.language, "streak-milestone", days=award.days, stars=award.stars)
                for award in awards
            }
            await record_awards(session, user_id, awards, texts, job_id=ctx.job_id)
    async with session_factory() as session:
        pending = await ledger.pending_texts(session, kind=MILESTONE_KIND, recipient_id=user_id)
    deliveries: dict[str, str] = {}
    for message in pending:
        result = await ctx.resources.sender.send_message(
            kind=MILESTONE_KIND,
            chat_id=user_id,
            business_key=message.business_key,
            text=message.text,
            job_id=ctx.job_id,
        )
        deliveries[message.business_key] = result.status.value
    if awards:
        log.info("streak milestones awarded", milestones=[a.days for a in awards], stars=total_stars(awards))
    return {
        "awarded": [award.days for award in awards],
        "stars": total_stars(awards),
        "deliveries": deliveries,
    }


@cron(queue=Queue.LONG, minute=5, retry=BATCH_RETRY)
async def check_and_reset_streaks(ctx: JobContext[Resources], run: CronRun) -> dict[str, int]:
    """Hourly: reset running streaks whose learner did not practise on their local yesterday (at the tick)."""
    from mluv.db.gamification import reset_broken_streaks, running_streak_timezones

    async with ctx.resources.session_factory.begin() as session:
        timezones = await running_streak_timezones(session)
        yesterday = {tz: local_date(run.tick, tz) - dt.timedelta(days=1) for tz in timezones}
        reset = await reset_broken_streaks(session, yesterday)
    if reset:
        log.info("streaks reset", reset=reset, tick=run.tick.isoformat())
    return {"timezones": len(timezones), "reset": reset}
