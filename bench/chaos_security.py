"""Security scenarios of bench/chaos.py: forged webhook requests, a pickled job planted in Redis, and the
bot token searched for in every log the run wrote (the last scenario of the run)."""

from __future__ import annotations

import asyncio
import secrets
import shlex
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select, update

from bench.chaos_common import (
    CHAOS_BOT_TOKEN,
    FAST,
    LOGS,
    LONG,
    REPO_ROOT,
    RUN_STARTED,
    BotServer,
    Outcome,
    Scenario,
    ScenarioError,
    add_learners,
    bot_server,
    eventually,
    stage,
    start,
)
from mluv.db.models import JobFailure, User
from mluv.db.models import Message as PracticeMessage
from mluv.jobs.queues import Queue
from mluv.jobs.wake import WAKE_CHANNEL_PREFIX
from mluv.telegram.sandbox.config import SANDBOX_BOT_TOKEN, bot_id_of

# --- forged webhook requests ------------------------------------------------------------------------------

FORGED = 5  # requests of each forged kind


def text_update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    """A private text message as Telegram POSTs it to the webhook."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id % 1_000_000,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Learner"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Learner", "language_code": "ru"},
            "text": text,
        },
    }


async def forged_webhooks(redis_url: str) -> Outcome:
    name = "forged-webhooks"
    async with stage(redis_url, LOGS / name) as st:
        learner, victim, third = await add_learners(st, 3)
        # The answer to a Czech message is its feedback (the acknowledgement is a chat action), which the
        # review job sends: one per stored message, so a message handled twice would show as two.
        # Advanced learners: a challenge of 7, so no nudge answers their first two messages too.
        async with st.session_factory.begin() as session:
            await session.execute(
                update(User).where(User.id.in_([learner, victim, third])).values(level="advanced")
            )
        st.fleet.start(FAST)
        async with bot_server(st) as server, aiohttp.ClientSession() as http:

            async def post(update: dict[str, Any], headers: dict[str, str]) -> int:
                async with http.post(server.webhook_url, json=update, headers=headers) as response:
                    await response.read()
                    return response.status

            header = "X-Telegram-Bot-Api-Secret-Token"
            statuses: dict[str, Counter[int]] = {"no secret": Counter(), "wrong secret": Counter()}
            forged_ids = []
            # Forged: a "/start" in the victim's name, which would make the bot answer them if handled.
            for i in range(FORGED):
                forged_ids.append(update_id := 8_000_000 + i)
                statuses["no secret"][await post(text_update(update_id, victim, "/start"), {})] += 1
            wrong = [
                "wrong",
                BotServer.SECRET[:-1],
                BotServer.SECRET + "x",
                BotServer.SECRET.upper(),
                CHAOS_BOT_TOKEN,  # the bot token is not the webhook secret
            ]
            for i, value in enumerate(wrong):
                forged_ids.append(update_id := 8_100_000 + i)
                statuses["wrong secret"][
                    await post(text_update(update_id, victim, "/start"), {header: value})
                ] += 1
            # Valid secret, replayed: one update posted twice in a row, another twice at once.
            valid = {header: BotServer.SECRET}
            first, second = (
                text_update(8_200_001, learner, "Ahoj!"),
                text_update(8_200_002, learner, "Dobrý den."),
            )
            replayed: Counter[int] = Counter()
            replayed[await post(first, valid)] += 1
            replayed[await post(first, valid)] += 1
            for status in await asyncio.gather(post(second, valid), post(second, valid)):
                replayed[status] += 1
            await st.sandbox.messages(learner, wait_for=2, within=30)
            # And Telegram's own redelivery (the sandbox posts the same update_id again).
            sandbox_update = await st.sandbox.send_text(third, "Jak se máš?")
            await st.sandbox.messages(third, wait_for=1, within=30)
            await st.sandbox.redeliver(int(sandbox_update["update_id"]))

            async def delivered() -> bool:
                return not await st.sandbox.pending_updates()

            await eventually(delivered, 15, "the redelivered update")
            await asyncio.sleep(1.5)
            async with st.session_factory() as session:
                stored = {
                    user: int(
                        await session.scalar(
                            select(func.count())
                            .select_from(PracticeMessage)
                            .where(PracticeMessage.user_id == user)
                        )
                        or 0
                    )
                    for user in (learner, victim, third)
                }
            received = {int(chat["id"]): int(chat["received"]) for chat in await st.sandbox.chats()}
            bot_id = bot_id_of(CHAOS_BOT_TOKEN)
            # The dedupe key carries the process's update numbering (mluv.bot.middlewares): any numbering.
            reached = [
                update_id
                for update_id in forged_ids
                if [key async for key in st.redis.scan_iter(match=f"mluv:update:{bot_id}:*:{update_id}")]
            ]
            duplicates_dropped = server.count("duplicate update dropped")
    unauthorized = statuses["no secret"][401] + statuses["wrong secret"][401]
    forged_total = FORGED + len(wrong)
    problems = []
    for kind, counts in statuses.items():
        if set(counts) != {401}:
            problems.append(f"{kind}: answers {dict(counts)}, expected only 401")
    if reached:
        problems.append(f"forged update ids reached the dispatcher: {reached}")
    if received.get(victim, 0) or stored[victim]:
        problems.append(f"the forged '/start' was handled: victim got {received.get(victim, 0)} messages")
    # Twice at once, the second may find the first still running: 503, so Telegram delivers it again
    # (mluv.bot.runner) instead of forgetting an update whose first delivery may still die.
    if not set(replayed) <= {200, 503} or replayed[503] > 1:
        problems.append(f"valid posts answered {dict(replayed)}, expected 200 (at most one 503)")
    if stored[learner] != 2 or received.get(learner, 0) != 2:
        problems.append(
            f"2 updates posted 4 times: {stored[learner]} messages stored, {received.get(learner, 0)} "
            "feedbacks (expected 2 and 2)"
        )
    if stored[third] != 1 or received.get(third, 0) != 1:
        problems.append(
            f"a redelivered update: {stored[third]} stored, {received.get(third, 0)} answers (expected 1)"
        )
    handled = stored[learner] + stored[third]
    return Outcome(
        name=name,
        passed=not problems,
        summary=(
            f"`mluv serve` webhook on loopback: no secret → {dict(statuses['no secret'])}, wrong secret (5 "
            f"variants, the bot token among them) → {dict(statuses['wrong secret'])}; forged updates "
            f"reaching the dispatcher {len(reached)}, answers to the victim {received.get(victim, 0)}; "
            f"valid secret: "
            f"2 updates posted 4× (2 in a row, 2 at once) + 1 Telegram redelivery → answered "
            f"{dict(replayed)}, handled {handled} (once each), {duplicates_dropped} duplicates dropped"
        ),
        problems=problems,
        counts=False,
        note=(
            f"401s {unauthorized}/{forged_total} forged, replays handled once: "
            f"{'yes' if stored[learner] == 2 and stored[third] == 1 else 'no'} ({handled} of 7 posts)"
        ),
        details={
            "no_secret": dict(statuses["no secret"]),
            "wrong_secret": dict(statuses["wrong secret"]),
            "forged_reached_dispatcher": reached,
            "victim_messages": received.get(victim, 0),
            "valid_answers": dict(replayed),
            "stored_messages": {str(k): v for k, v in stored.items()},
            "bot_answers": {str(k): received.get(k, 0) for k in (learner, victim, third)},
            "duplicates_dropped_lines": duplicates_dropped,
        },
    )


# --- a pickled payload planted in Redis -------------------------------------------------------------------

MARKERS = REPO_ROOT / ".mluv" / "chaos-markers"


def planted(marker: Path) -> bytes:
    """A protocol-2 pickle of `os.system("touch <marker>")`, written out opcode by opcode (PROTO 2,
    GLOBAL, BINUNICODE, TUPLE1, REDUCE, STOP) so that nothing here imports pickle: unpickled with arq's
    default serializer it would run the command. tests/jobs/test_serializer.py shows these very bytes
    armed (pickle.loads creates the marker) and refused by the project's serializer."""
    command = f"touch {shlex.quote(str(marker))}".encode()
    return b"\x80\x02cos\nsystem\nX" + len(command).to_bytes(4, "little") + command + b"\x85R."


async def pickled_payload(redis_url: str) -> Outcome:

    from mluv.jobs.connections import create_arq_pool
    from mluv.jobs.serializer import deserialize
    from workers.maintenance import ping, ping_long

    name = "pickled-payload"
    MARKERS.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(4)
    targets = (Queue.FAST, Queue.LONG)
    async with stage(redis_url, LOGS / name) as st:
        long, fast = st.fleet.start(LONG), st.fleet.start(FAST)
        await start(long, fast)
        markers: dict[str, Path] = {}
        now_ms = int(time.time() * 1000)
        db = st.redis.connection_pool.connection_kwargs.get("db", 0)
        for queue in targets:
            job_id = f"planted-{queue.label}-{token}"
            markers[job_id] = MARKERS / f"pwned-{queue.label}-{token}"
            # Straight into arq's keys, as someone with write access to Redis would.
            await st.redis.set(f"arq:job:{job_id}", planted(markers[job_id]), px=60_000)
            await st.redis.zadd(queue.value, {job_id: now_ms})
            await st.redis.publish(f"{WAKE_CHANNEL_PREFIX}{db}:{queue.value}", str(now_ms))

        async def taken() -> bool:
            for queue in targets:
                if await st.redis.zscore(queue.value, f"planted-{queue.label}-{token}") is not None:
                    return False
            return True

        await eventually(taken, 20, "the planted jobs to be taken off the queues")
        await asyncio.sleep(1)
        results: dict[str, Any] = {}
        for job_id in markers:
            raw = await st.redis.get(f"arq:result:{job_id}")
            stored = deserialize(raw) if raw else None
            results[job_id] = (
                {"success": stored.get("s"), "result": str(stored.get("r"))[:200]}
                if isinstance(stored, dict)
                else None
            )
        executed = [job_id for job_id, marker in markers.items() if marker.exists()]
        logged = {
            job_id: st.fleet.count(f"deserializing job {job_id} failed", level="error") for job_id in markers
        }
        async with st.session_factory() as session:
            letters = int(await session.scalar(select(func.count()).select_from(JobFailure)) or 0)
        # The workers are still up and still take jobs.
        alive = [worker.process.poll() is None for worker in (long, fast)]
        pool = await create_arq_pool(st.redis_url)
        try:
            pings = [
                await ping.enqueue(pool, token=token),
                await ping_long.enqueue(pool, token=token),
            ]
            answers = []
            for job in pings:
                if job is None:
                    raise ScenarioError("ping not enqueued")
                answers.append(await job.result(timeout=15))
        finally:
            await pool.aclose()
    for marker in markers.values():
        marker.unlink(missing_ok=True)
    refused = [job_id for job_id, result in results.items() if result and result["success"] is False]
    sample = next((result["result"] for result in results.values() if result), "none")
    problems = []
    if executed:
        problems.append(f"planted payloads EXECUTED: {executed}")
    if len(refused) != len(markers):
        problems.append(f"arq results of the planted jobs: {results}")
    if not all(alive) or len(answers) != 2:
        problems.append(f"workers after the plant: alive {alive}, pings answered {len(answers)}")
    return Outcome(
        name=name,
        passed=not problems,
        summary=(
            "a pickle whose unpickling runs `touch` (armed: tests/jobs/test_serializer.py) planted as "
            f"a job on the fast and on the long queue: executed {len(executed)}, refused "
            f"{len(refused)} (arq stored a failed result: {sample[:90]!r}), "
            f"logged as errors by the workers {sum(logged.values())}×, dead letters {letters} (refused "
            f"before the jobs framework runs), workers alive {sum(alive)}/2 and answering pings"
        ),
        problems=problems,
        counts=False,
        note=f"executed {len(executed)}, refused {len(refused)}/{len(markers)}",
        details={
            "executed": executed,
            "results": results,
            "worker_log_mentions": logged,
            "dead_letters": letters,
            "workers_alive": alive,
            "pings": answers,
        },
    )


# --- the bot token in the logs ----------------------------------------------------------------------------


def needles() -> dict[str, str]:
    """What must never appear in a log: each token, and its secret half alone (after the bot id)."""
    found = {}
    for label, token in (("BOT_TOKEN", CHAOS_BOT_TOKEN), ("sandbox token", SANDBOX_BOT_TOKEN)):
        found[label] = token
        found[f"{label} (secret half)"] = token.partition(":")[2]
    found["WEBHOOK_SECRET"] = BotServer.SECRET
    return found


def process_environment(pid: int) -> list[bytes]:
    return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")


async def token_grep(redis_url: str) -> Outcome:
    from mluv.jobs.connections import create_arq_pool
    from workers.messaging import send_message

    name = "token-grep"
    # First, that the workers do run with the real-looking token: one more worker, its environment read
    # from /proc, and a message it sends accepted by the sandbox (which knows only the two tokens).
    async with stage(redis_url, LOGS / name) as st:
        (learner,) = await add_learners(st, 1)
        worker = st.fleet.start(FAST)
        await worker.started()
        environ = await asyncio.to_thread(process_environment, worker.pid)
        has_token = f"BOT_TOKEN={CHAOS_BOT_TOKEN}".encode() in environ
        pool = await create_arq_pool(st.redis_url)
        try:
            await send_message.enqueue(pool, chat_id=learner, text="Ahoj! Token check.")
        finally:
            await pool.aclose()
        await st.sandbox.messages(learner, wait_for=1, within=15)
        unauthorized = int((await st.sandbox.counters())["unauthorized_401"])
    files = sorted(path for path in LOGS.rglob("*") if path.is_file())
    this_run = [path for path in files if path.stat().st_mtime >= RUN_STARTED]
    matches: dict[str, dict[str, int]] = {}
    total_bytes = 0
    for path in files:
        data = path.read_bytes()
        total_bytes += len(data)
        for label, needle in needles().items():
            count = data.count(needle.encode())
            if count:
                matches.setdefault(str(path.relative_to(LOGS)), {})[label] = count
    hits = sum(sum(found.values()) for found in matches.values())
    problems = []
    if not has_token:
        problems.append("the worker's environment has no BOT_TOKEN: the grep proves little")
    if unauthorized:
        problems.append(
            f"the sandbox refused {unauthorized} requests (401): the workers' token was not accepted"
        )
    if hits:
        problems.append(f"secrets found in logs: {matches}")
    scenarios = sorted(
        {path.relative_to(LOGS).parts[0] for path in this_run if len(path.relative_to(LOGS).parts) > 1}
    )
    return Outcome(
        name=name,
        passed=not problems,
        summary=(
            f"{len(files)} log files under .mluv/bench-logs/chaos ({total_bytes / 1e6:.1f} MB; "
            f"{len(this_run)} written by this run, of {len(scenarios)} scenarios) searched for BOT_TOKEN, "
            f"the sandbox token, "
            f"their secret halves and WEBHOOK_SECRET: {hits} matches; workers ran with BOT_TOKEN set "
            f"({'checked in /proc' if has_token else 'NOT found in /proc'}) and the sandbox accepted it"
        ),
        problems=problems,
        counts=False,
        note=f"{hits} matches across {len(files)} files ({len(this_run)} from this run)",
        details={
            "files": len(files),
            "files_this_run": len(this_run),
            "scenarios_this_run": scenarios,
            "bytes": total_bytes,
            "needles": sorted(needles()),
            "matches": matches,
            "worker_env_has_bot_token": has_token,
            "sandbox_401": unauthorized,
        },
    )


SECURITY_SCENARIOS: dict[str, tuple[Scenario, float]] = {
    "forged-webhooks": (forged_webhooks, 60.0),
    "pickled-payload": (pickled_payload, 60.0),
}
TOKEN_GREP: dict[str, tuple[Scenario, float]] = {"token-grep": (token_grep, 45.0)}
