"""Claiming due jobs in one round trip, with arq's run_job opening transaction run in the same script.

arq 0.28 starts a job with a read of the queue plus four round trips per job (WATCH, EXISTS, ZSCORE,
MULTI/PSETEX/EXEC), and then its `Worker.run_job` opens with one more MULTI: GET the job, INCR its retry
counter and EXPIRE it, and ZREM the job from the abort set when aborts are allowed. `START_SCRIPT`
makes arq's start checks and claims for as many jobs as there are free slots, and runs that opening for
each job it claims, atomically with the claim where arq runs it a moment later. The worker
(mluv.jobs.wake) hands the opening's replies to arq's unchanged run_job, one round trip less before
each job starts (a caller awaiting the result waits for every one of them):

- `parse_claimed` gives each claimed job an `Opening`: the commands arq queues and the replies as
  redis-py parses them;
- `Opening.install()` makes it the running task's (a ContextVar: each job runs in its own task);
- `WakingRedis.pipeline()` returns a `PrefetchedPipeline` for that task's first transaction: its
  execute() checks that exactly those commands were queued and returns the replies without I/O. Any
  other command list raises (arq's opening changed, and the claim has counted the try already);
  tests/jobs/test_claim.py pins arq's commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from arq.constants import abort_jobs_ss, in_progress_key_prefix, job_key_prefix, retry_key_prefix
from arq.utils import timestamp_ms
from redis.asyncio.client import Pipeline

RETRY_KEY_TTL_S = 88400  # arq's run_job sets this expiry on the retry counter

# KEYS: queue zset, abort set; ARGV (claim_args): now ms, in-progress ttl ms, in-progress key prefix, free
# slots, job key prefix, retry key prefix, '1' when aborts are allowed, the retry key's ttl, then 'read',
# the read offset and limit (a poll: candidates are the queue's due entries) or 'ids' and the candidates.
# arq's start check and claim (no one running it, still queued, due) for up to `free` candidates, then
# run_job's opening for each claimed. Keys are named by prefix, not KEYS: arq's layout is for a single
# Redis, never a cluster. Returns the earliest score not yet due (or ''), the number of entries read,
# then for each claimed job its id, score, job ('' when expired), try and whether it was aborted.
START_SCRIPT = """
local now = tonumber(ARGV[1])
local free = tonumber(ARGV[4])
local result = {'', 0}
local candidates = {}
if ARGV[9] == 'read' then
  local entries =
    redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '+inf', 'WITHSCORES', 'LIMIT', ARGV[10], ARGV[11])
  result[2] = #entries / 2
  for i = 1, #entries, 2 do
    if tonumber(entries[i + 1]) > now then
      result[1] = entries[i + 1]
      break
    end
    candidates[#candidates + 1] = entries[i]
  end
else
  for i = 10, #ARGV do
    candidates[#candidates + 1] = ARGV[i]
  end
end
for _, id in ipairs(candidates) do
  if free <= 0 then
    break
  end
  local key = ARGV[3] .. id
  if redis.call('EXISTS', key) == 0 then
    local score = redis.call('ZSCORE', KEYS[1], id)
    if score and tonumber(score) <= now then
      redis.call('PSETEX', key, ARGV[2], '1')
      result[#result + 1] = id
      result[#result + 1] = score
      result[#result + 1] = redis.call('GET', ARGV[5] .. id) or ''
      local retry_key = ARGV[6] .. id
      result[#result + 1] = redis.call('INCR', retry_key)
      redis.call('EXPIRE', retry_key, ARGV[8])
      local aborted = 0
      if ARGV[7] == '1' then
        aborted = redis.call('ZREM', KEYS[2], id)
      end
      result[#result + 1] = aborted
      free = free - 1
    end
  end
end
return result
"""

_OPENING: ContextVar[Opening | None] = ContextVar("mluv_run_job_opening", default=None)


@dataclass(frozen=True, slots=True)
class Opening:
    """arq's opening commands for one job and the replies the claim script got for them."""

    commands: tuple[tuple[Any, ...], ...]
    replies: tuple[Any, ...]

    @classmethod
    def for_job(cls, job_id: str, allow_abort: bool, job: bytes, job_try: int, aborted: int) -> Opening:
        retry_key = retry_key_prefix + job_id
        commands: list[tuple[Any, ...]] = [
            ("GET", job_key_prefix + job_id),
            ("INCRBY", retry_key, 1),  # redis-py sends incr() as INCRBY
            ("EXPIRE", retry_key, RETRY_KEY_TTL_S),
        ]
        replies: list[Any] = [job or None, int(job_try), True]  # redis-py parses EXPIRE's 1 as True
        if allow_abort:
            commands.append(("ZREM", abort_jobs_ss, job_id))
            replies.append(int(aborted))
        return cls(tuple(commands), tuple(replies))

    def install(self) -> None:
        """The running task's next transaction (arq's run_job opening, in the job's own task) is this."""
        _OPENING.set(self)


def take_opening() -> Opening | None:
    """The running task's prefetched opening, once: later transactions of the job run as usual."""
    opening = _OPENING.get()
    if opening is not None:
        _OPENING.set(None)
    return opening


class PrefetchedPipeline(Pipeline):
    """A transaction whose replies the claim script already got: execute() makes no round trip."""

    opening: Opening

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        queued: Sequence[tuple[Any, ...]] = tuple(args for args, _options in self.command_stack)
        await self.reset()  # type: ignore[no-untyped-call]  # redis-py 5 leaves it untyped
        if queued != self.opening.commands:
            raise RuntimeError(f"arq's run_job opening changed: {queued} queued, {self.opening.commands} run")
        return list(self.opening.replies)


CLAIMED_WIDTH = 5  # per claimed job: id, score, then the opening's job, try and aborted


def claim_args(
    in_progress_ms: int, free: int, allow_abort: bool, candidates: Sequence[str | int]
) -> list[Any]:
    """START_SCRIPT's ARGV; `candidates` is ['read', offset, limit] or ['ids', *ids]."""
    return [
        timestamp_ms(),
        in_progress_ms,
        in_progress_key_prefix,
        free,
        job_key_prefix,
        retry_key_prefix,
        "1" if allow_abort else "0",
        RETRY_KEY_TTL_S,
        *candidates,
    ]


def parse_claimed(started: Sequence[Any], allow_abort: bool) -> list[tuple[str, int, Opening]]:
    """START_SCRIPT's claimed jobs: (id, score, the replies to its run_job opening)."""
    claimed = []
    for at in range(0, len(started), CLAIMED_WIDTH):
        raw_id, raw_score, job, job_try, aborted = started[at : at + CLAIMED_WIDTH]
        job_id = raw_id.decode()
        opening = Opening.for_job(job_id, allow_abort, job, job_try, aborted)
        claimed.append((job_id, int(float(raw_score)), opening))
    return claimed
