"""`mluv serve` as the README's run command starts it: migrations, web server, in-process workers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[1]
MLUV = Path(sys.executable).parent / "mluv"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"mluv serve exited early with {process.returncode}")
        try:
            status, body = await asyncio.to_thread(get, url)
        except OSError as error:
            last = error
        else:
            last = body
            if status == 200:
                return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"{url} not ready after {timeout} s: {last}")


def clean_env(tmp_path: Path, **values: str) -> dict[str, str]:
    prefixes = ("BOT_", "DATABASE_", "REDIS_", "WEB_", "TELEGRAM_", "SANDBOX_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    # No Telegram configured: serve starts the sandbox, with two learners writing Czech.
    env.update(
        DATA_DIR=str(tmp_path / "data"),
        SANDBOX_PORT=str(free_port()),
        SANDBOX_LEARNERS="2",
        SANDBOX_RATE="4",
        LOG_JSON="true",
    )
    env.update(values)
    return env


async def wait_for_log(log_path: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared in the log")
        await asyncio.sleep(0.2)


async def _until_ready(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    assert (await wait_ready(f"http://127.0.0.1:{port}/healthz", process, timeout))["status"] == "ok"
    # /readyz turns 200 with the first worker heartbeat; the other queue's worker may still be starting.
    deadline = time.monotonic() + 30
    while True:
        ready = await wait_ready(f"http://127.0.0.1:{port}/readyz", process, 30)
        both = ready["checks"]["workers"]["queues"] == {"fast": True, "long": True}
        if both or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert ready["checks"]["database"]["ok"] and ready["checks"]["redis"]["ok"]
    assert ready["checks"]["workers"]["queues"] == {"fast": True, "long": True}


async def serve_and_stop(env: dict[str, str], tmp_path: Path, timeout: float) -> str:
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(MLUV), "serve"], cwd=tmp_path, env={**env, "WEB_PORT": str(port)}, stdout=log, stderr=log
        )
        try:
            await _until_ready(port, process, timeout)
            # The simulated learners' messages go through the bot, the queue and the review job.
            await wait_for_log(log_path, '"job_name": "review_message"', process, 60)
            process.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(process.wait, 60) == 0, log_path.read_text()
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- mluv serve output ---\n{log_path.read_text()}") from None
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    return log_path.read_text()


async def test_serve_migrates_serves_health_and_stops_cleanly(
    database_url: str, redis_url: str, tmp_path: Path, clean_tables: None
) -> None:
    env = clean_env(tmp_path, DATABASE_URL=database_url, REDIS_URL=redis_url, ENVIRONMENT="development")
    output = await serve_and_stop(env, tmp_path, timeout=60)
    assert "in-process workers started" in output
    assert "the bot talks to the local Telegram sandbox" in output
    assert "receiving updates by long polling" in output
    assert '"event": "stopped"' in output


async def test_serve_without_any_url_uses_embedded_services(tmp_path: Path) -> None:
    pytest.importorskip("pgserver")
    output = await serve_and_stop(clean_env(tmp_path), tmp_path, timeout=180)
    assert "using embedded services" in output


async def first_message_is_answered(env: dict[str, str], tmp_path: Path, run: int) -> int:
    """Start `mluv serve`, let a learner write their first message of this run, return the update_id it
    got, and stop; fails if the bot never answers."""
    from mluv.telegram.sandbox import SandboxClient

    port = free_port()
    log_path = tmp_path / f"serve-{run}.log"
    learner = 555_000_100 + run
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(MLUV), "serve"], cwd=tmp_path, env={**env, "WEB_PORT": str(port)}, stdout=log, stderr=log
        )
        try:
            await _until_ready(port, process, 60)
            async with SandboxClient(f"http://127.0.0.1:{env['SANDBOX_PORT']}") as sandbox:
                await sandbox.create_user(learner, "Olena", language_code="uk")
                update = await sandbox.send_text(learner, "/start")
                replies = await sandbox.messages(learner, wait_for=1, within=30)
            assert replies, f"run {run}: the learner's first message was not answered"
            process.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(process.wait, 60) == 0
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- mluv serve output ---\n{log_path.read_text()}") from None
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    update_id: int = update["update_id"]
    return update_id


async def test_a_second_run_answers_the_first_message_at_once(
    database_url: str, redis_url: str, tmp_path: Path, clean_tables: None
) -> None:
    # The sandbox numbers updates from 1 at each start and Redis keeps the first run's dedupe keys: the
    # second run must still answer (the keys carry the numbering's identity, mluv.bot.dispatcher).
    env = clean_env(
        tmp_path,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        ENVIRONMENT="development",
        SANDBOX_LEARNERS="0",
    )
    first = await first_message_is_answered(env, tmp_path, 1)
    second = await first_message_is_answered(env, tmp_path, 2)
    assert first == second  # the same update_id again, answered both times
