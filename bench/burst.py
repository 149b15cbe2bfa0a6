"""A burst of learners sending /start at once, against a strict emulation of Telegram's global limit.

    .venv/bin/python -m bench.burst [--learners 200]

The bot polls the local Bot API sandbox in strict mode (at most 30 sends in any one-second window, a
sliding window: a 429 past it), with in-process workers, real PostgreSQL and Redis (throwaway database),
the shipped limits (25/s to everyone, 1/s to a chat). All learners (ru and uk alternating) write /start
at once; every one must get the welcome. Reported: the time until all were answered, each learner's
reply latency (the sandbox's time of the welcome minus that of the /start), the 429s the sandbox
answered, and the most sends in any one-second window of the sandbox's clock.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Literal

from bench.common import bench_database_url, bench_redis_url, percentiles, write_result
from mluv.bot.dispatcher import create_dispatcher
from mluv.bot.handlers.start import onboarding_text
from mluv.bot.runner import BotRunner
from mluv.resources import Resources
from mluv.settings import load_settings
from mluv.telegram.sandbox import LimitsConfig, SandboxClient, SandboxConfig, run_sandbox
from mluv.telegram.sandbox.limits import busiest_window
from mluv.worker import InProcessWorkers

BASE_ID = 900_000_000
STRICT = LimitsConfig(global_per_second=30, global_window_seconds=1)


async def burst(sandbox: SandboxClient, learners: int) -> dict[str, float]:
    languages: dict[int, Literal["ru", "uk"]] = {BASE_ID + n: ("ru", "uk")[n % 2] for n in range(learners)}
    for learner, lang in languages.items():
        await sandbox.create_user(learner, f"Learner {learner}", language_code=lang)
    started = time.monotonic()
    await asyncio.gather(*(sandbox.send_text(learner, "/start") for learner in languages))
    latencies, sent_at, unanswered = [], [], 0
    for learner, lang in languages.items():
        conversation = await sandbox.messages(learner, wait_for=1, within=60, include_learner=True)
        asked = next(record for record in conversation if not record["from_bot"])
        welcome = next((record for record in conversation if record["from_bot"]), None)
        if welcome is None or welcome["text"] != onboarding_text(lang):
            unanswered += 1
            continue
        latencies.append(welcome["time"] - asked["time"])
        sent_at.append(welcome["sent_at"] or 0.0)
    all_answered = time.monotonic() - started
    counters = await sandbox.counters()
    return {
        "learners": learners,
        "answered": len(latencies),
        "unanswered": unanswered,
        "all_answered_seconds": all_answered,
        "rate_limited_429": counters["rate_limited_429"],
        "busiest_one_second_window": busiest_window(sent_at, 1.0),
        "window_limit": STRICT.global_window_limit,
        **{f"latency_{key}_s": value for key, value in percentiles(latencies).items() if key != "n"},
        "latency_p95_s": statistics.quantiles(latencies, n=100, method="inclusive")[94],
    }


async def main(learners: int) -> None:
    config = SandboxConfig(auto_create_chats=False, limits=STRICT)
    with bench_redis_url() as redis_url:
        async with (
            bench_database_url() as database_url,
            run_sandbox(port=0, config=config) as sandbox_url,
            SandboxClient(sandbox_url) as sandbox,
        ):
            settings = load_settings(
                _env_file=None,
                environment="test",
                database_url=database_url,
                redis_url=redis_url,
                telegram_api_base=sandbox_url,
            )
            resources = await Resources.create(settings)
            await resources.pool.flushdb()  # the limiter's schedule and dedupe keys of earlier runs
            runner = BotRunner(create_dispatcher(resources), resources.bot, settings)
            workers = InProcessWorkers(resources)
            await workers.start()
            await runner.start()
            try:
                figures = await burst(sandbox, learners)
            finally:
                await runner.stop()
                await workers.stop()
                await resources.close()
    print(f"{learners} learners send /start at once; sandbox strict: 30 sends in any one-second window")
    print(f"  answered            {figures['answered']:.0f} (unanswered {figures['unanswered']:.0f})")
    print(f"  all answered after  {figures['all_answered_seconds']:.2f} s")
    print(
        "  reply latency       "
        + "  ".join(f"{key} {figures[f'latency_{key}_s']:.2f} s" for key in ("p50", "p95", "max"))
    )
    print(f"  429s                {figures['rate_limited_429']:.0f}")
    print(f"  busiest window      {figures['busiest_one_second_window']:.0f} sends (limit 30)")
    print(f"wrote {write_result('burst', figures)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learners", type=int, default=200)
    asyncio.run(main(parser.parse_args().learners))
