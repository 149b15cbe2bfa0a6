"""`mluv dashboard`: the dashboard, /metrics and health alone, and `--hash-password`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from mluv.cli import build_parser
from mluv.web.auth import verify_password
from tests.conftest import REPO_ROOT
from tests.web.conftest import DASHBOARD_TOKEN, METRICS_TOKEN

MLUV = Path(sys.executable).parent / "mluv"


def test_hash_password_prints_a_value_that_verifies(tmp_path: Path) -> None:
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [str(MLUV), "dashboard", "--hash-password"],
        input="a long operator password\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    value = done.stdout.strip()
    assert value.startswith("scrypt$") and verify_password("a long operator password", value)
    assert not verify_password("a long operator passwore", value)
    short = subprocess.run(
        [str(MLUV), "dashboard", "--hash-password"],
        input="short\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert short.returncode == 2 and "at least 12" in short.stderr


def test_dashboard_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["dashboard", "--help"])
    assert exit_info.value.code == 0
    assert "--hash-password" in capsys.readouterr().out


@pytest.mark.integration
async def test_mluv_dashboard_serves_the_dashboard_metrics_and_health(
    database_url: str, redis_url: str, tmp_path: Path, unused_tcp_port: int
) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEB_", "TELEGRAM_", "DASHBOARD_"))
    }
    env.update(
        ENVIRONMENT="test",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DATA_DIR=str(tmp_path),
        DASHBOARD_TOKEN=DASHBOARD_TOKEN,
        METRICS_TOKEN=METRICS_TOKEN,
        PYTHONPATH=str(REPO_ROOT),
    )
    process = subprocess.Popen(
        [str(MLUV), "dashboard", "--host", "127.0.0.1", "--port", str(unused_tcp_port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{unused_tcp_port}"
    try:
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 30
            while True:
                try:
                    async with session.get(f"{base}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert process.poll() is None and time.monotonic() < deadline, "mluv dashboard did not start"
                await asyncio.sleep(0.2)
            async with session.get(f"{base}/dashboard", allow_redirects=False) as response:
                assert response.status == 302 and response.headers["Location"].startswith("/dashboard/login")
            headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
            async with session.get(f"{base}/metrics", headers=headers) as response:
                assert response.status == 200 and "mluv_queue_depth" in await response.text()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
