"""The worker's entry points import what picking a job needs, nothing a job loads for itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# Loaded by the jobs (and the health server) that use them: a worker starts and idles without them.
LOADED_ON_FIRST_USE = (
    "sqlalchemy",
    "asyncpg",
    "aiogram",
    "aiohttp",
    "sentry_sdk",
    "mluv.db",
    "mluv.telegram",
    "mluv.web",
    "mluv.reviewers",
    "mluv.i18n",
    "mluv.domain.review",
    "mluv.domain.czech",
    "mluv.domain.reports",
)


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param("import workers; workers.WorkerSettings", id="fast-queue-settings"),
        pytest.param("import workers; workers.LongWorkerSettings", id="long-queue-settings"),
        pytest.param("import mluv.cli, mluv.worker, mluv.resources", id="mluv-worker-command"),
        pytest.param(
            "import workers; from mluv.worker import create_worker; create_worker(workers.WorkerSettings)",
            id="deployed-worker-built",
        ),
    ],
)
def test_a_worker_starts_without_what_its_jobs_load_themselves(entry: str, tmp_path: Path) -> None:
    check = f"import sys, json; {entry}; print(json.dumps(sorted(sys.modules)))"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO_ROOT),
        "ENVIRONMENT": "test",
        # Never connected to: building the settings and the worker opens no connection.
        "DATABASE_URL": "postgresql://mluv@127.0.0.1:9/mluv",
        "REDIS_URL": "redis://127.0.0.1:9/0",
        "DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stdout.splitlines()[-1])
    assert "mluv.jobs" in modules
    assert [m for m in modules if m.startswith(LOADED_ON_FIRST_USE)] == []
