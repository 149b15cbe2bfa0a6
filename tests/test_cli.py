"""The `mluv` command: configuration errors, migrations check, dead-letter commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mluv.cli import build_parser

MLUV = Path(sys.executable).parent / "mluv"


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MLUV), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_", "REDIS_"))}
    env["DATA_DIR"] = str(tmp_path / "data")
    return env


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("WEB_PORT", "99999", "WEB_PORT: Input should be less than or equal to 65535"),
        ("ADMIN_IDS", "1,abc", "ADMIN_IDS: comma-separated Telegram ids expected"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL: must be a PostgreSQL URL"),
        ("BOT_TOKEN", "changethis", "BOT_TOKEN: does not look like a Telegram bot token"),
    ],
)
def test_a_wrong_setting_stops_with_one_clear_line(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    result = run(["migrate", "--check"], {**base_env(tmp_path), variable: value}, tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert value not in result.stderr or variable not in {"BOT_TOKEN"}


@pytest.mark.integration
def test_migrate_check_reports_no_drift(database_url: str, tmp_path: Path) -> None:
    result = run(["migrate", "--check"], {**base_env(tmp_path), "DATABASE_URL": database_url}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no drift" in result.stdout


@pytest.mark.integration
def test_retry_of_an_unknown_failure_is_a_clear_error(
    database_url: str, redis_url: str, tmp_path: Path, clean_tables: None
) -> None:
    env = {**base_env(tmp_path), "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    result = run(["jobs", "retry", "424242"], env, tmp_path)
    assert result.returncode == 1
    assert "no job failure with id 424242" in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--help"],
        ["migrate", "--help"],
        ["worker", "--help"],
        ["jobs", "failures", "--help"],
        ["jobs", "retry", "--help"],
        ["jobs", "discard", "--help"],
        ["jobs", "ping", "--help"],
    ],
)
def test_every_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 0
    assert "usage: mluv" in capsys.readouterr().out
