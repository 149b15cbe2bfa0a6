"""The bootstrap behind the README's commands: its pure parts, without network or installs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mluv import bootstrap

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("uv 0.13.9 (x86_64-unknown-linux-gnu)\n", (0, 13, 9)),
        ("uv 0.13.10", (0, 13, 10)),
        ("uv 1.0.0 (abc 2026-01-01)", (1, 0, 0)),
        ("", None),
        ("uvx 0.13.9", None),
    ],
)
def test_parse_uv_version(output: str, expected: tuple[int, int, int] | None) -> None:
    assert bootstrap.parse_uv_version(output) == expected


def _fake_uv(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "uv {version} (fake)"\n')
    path.chmod(0o755)
    return path


def test_uv_version_runs_the_binary(tmp_path: Path) -> None:
    assert bootstrap.uv_version(_fake_uv(tmp_path / "uv", "0.13.9")) == (0, 13, 9)
    assert bootstrap.uv_version(tmp_path / "missing") is None


def test_find_uv_prefers_a_recent_enough_uv_on_path(tmp_path: Path) -> None:
    on_path = _fake_uv(tmp_path / "bin" / "uv", "0.14.0")
    _fake_uv(bootstrap.bin_path(bootstrap.tools_dir(tmp_path), "uv"), bootstrap.UV_VERSION)
    assert bootstrap.find_uv(tmp_path, which=lambda name: str(on_path)) == on_path


def test_find_uv_falls_back_to_the_bootstrapped_one_when_path_has_an_old_uv(tmp_path: Path) -> None:
    old = _fake_uv(tmp_path / "bin" / "uv", "0.4.0")
    private = _fake_uv(bootstrap.bin_path(bootstrap.tools_dir(tmp_path), "uv"), bootstrap.UV_VERSION)
    assert bootstrap.find_uv(tmp_path, which=lambda name: str(old)) == private
    assert bootstrap.find_uv(tmp_path, which=lambda name: None) == private


def test_find_uv_finds_nothing_on_a_fresh_machine(tmp_path: Path) -> None:
    assert bootstrap.find_uv(tmp_path, which=lambda name: None) is None
    broken = tmp_path / "bin" / "uv"
    broken.parent.mkdir()
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    assert bootstrap.find_uv(tmp_path, which=lambda name: str(broken)) is None


def test_uv_is_installed_pinned_into_a_private_venv(tmp_path: Path) -> None:
    command = bootstrap.pip_install_uv_command(tmp_path / ".mluv" / "tools")
    assert command[0] == str(tmp_path / ".mluv" / "tools" / "bin" / "python")
    assert command[1:4] == ["-m", "pip", "install"]
    assert command[-1] == f"uv=={bootstrap.UV_VERSION}"


def test_sync_is_frozen_with_the_embedded_extra_and_this_interpreter(tmp_path: Path) -> None:
    command = bootstrap.sync_command(Path("/x/uv"), tmp_path, "/usr/bin/python3.11")
    assert command == [
        "/x/uv",
        "sync",
        "--frozen",
        "--compile-bytecode",
        "--extra",
        "embedded",
        "--project",
        str(tmp_path),
        "--python",
        "/usr/bin/python3.11",
    ]
    env = bootstrap.sync_env({"PATH": "/bin", "VIRTUAL_ENV": "/elsewhere"})
    assert env == {"PATH": "/bin", "UV_PYTHON_DOWNLOADS": "never"}


@pytest.mark.parametrize(
    ("args", "extras"),
    [
        ([], []),
        (["--extra", "bench"], ["bench"]),
        (["--extra", "bench", "--extra", "other"], ["bench", "other"]),
    ],
)
def test_sync_adds_the_extras_asked_for(args: list[str], extras: list[str]) -> None:
    assert bootstrap.sync_extras(args) == extras
    command = bootstrap.sync_command(Path("/x/uv"), Path("/r"), "/p", extras)
    assert command[4:6] == ["--extra", "embedded"]
    assert command[6 : 6 + 2 * len(extras)] == [arg for extra in extras for arg in ("--extra", extra)]


@pytest.mark.parametrize("args", [["bench"], ["--extra"], ["--frozen", "x"], ["--extra", "bench", "-v"]])
def test_sync_refuses_other_arguments(args: list[str]) -> None:
    with pytest.raises(bootstrap.BootstrapError):
        bootstrap.sync_extras(args)


def test_project_venv_honours_uv_project_environment(tmp_path: Path) -> None:
    assert bootstrap.project_venv(tmp_path, {}) == tmp_path / ".venv"
    assert bootstrap.project_venv(tmp_path, {"UV_PROJECT_ENVIRONMENT": "env"}) == tmp_path / "env"
    assert bootstrap.project_venv(tmp_path, {"UV_PROJECT_ENVIRONMENT": "/opt/venv"}) == Path("/opt/venv")


def test_commands_pass_their_arguments_through(tmp_path: Path) -> None:
    venv = tmp_path / ".venv"
    assert bootstrap.exec_command("run", venv, ["--port", "9000"]) == [
        str(venv / "bin" / "mluv"),
        "serve",
        "--port",
        "9000",
    ]
    assert bootstrap.exec_command("test", venv, ["-q", "-x", "tests/a.py"]) == [
        str(venv / "bin" / "python"),
        "-m",
        "pytest",
        "-q",
        "-x",
        "tests/a.py",
    ]
    with pytest.raises(ValueError, match="sync"):
        bootstrap.exec_command("sync", venv, [])
    env = bootstrap.exec_env(venv, {"PATH": "/usr/bin", "PYTHONHOME": "/x"})
    assert env == {"PATH": f"{venv / 'bin'}:/usr/bin", "VIRTUAL_ENV": str(venv)}


def test_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert bootstrap.main([]) == 2
    assert bootstrap.main(["deploy"]) == 2
    assert "usage:" in capsys.readouterr().err
    assert bootstrap.main(["--help"]) == 0
    assert "usage:" in capsys.readouterr().out


class _Recorder:
    def __init__(self, returncode: int = 0) -> None:
        self.calls: list[list[str]] = []
        self.envs: list[dict[str, str]] = []
        self.returncode = returncode

    def run(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(command)
        self.envs.append(kwargs.get("env", {}))
        return subprocess.CompletedProcess(command, self.returncode)


class _Executed(Exception):
    pass


def _execve(path: str, argv: list[str], env: dict[str, str]) -> None:
    raise _Executed(path, argv, env)


class _Bootstrapped:
    """main() with uv at /x/uv, its syncs recorded, nothing compiled and its exec raising _Executed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.recorder = _Recorder()
        self.compiled: list[Path] = []
        monkeypatch.setattr(bootstrap, "find_uv", lambda root: Path("/x/uv"))
        monkeypatch.setattr(subprocess, "run", self.recorder.run)
        monkeypatch.setattr(bootstrap, "compile_project", self.compiled.append)
        monkeypatch.setattr(os, "execve", _execve)


def test_main_syncs_then_replaces_itself_with_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    booted = _Bootstrapped(monkeypatch)
    recorder, compiled = booted.recorder, booted.compiled
    monkeypatch.delenv("UV_PROJECT_ENVIRONMENT", raising=False)

    with pytest.raises(_Executed) as executed:
        bootstrap.main(["test", "-q", "tests/test_x.py"])
    assert recorder.calls == [bootstrap.sync_command(Path("/x/uv"), REPO_ROOT, sys.executable)]
    path, argv, env = executed.value.args
    assert path == str(REPO_ROOT / ".venv" / "bin" / "python")
    assert argv == [path, "-m", "pytest", "-q", "tests/test_x.py"]
    assert env["VIRTUAL_ENV"] == str(REPO_ROOT / ".venv")

    assert bootstrap.main(["sync"]) == 0  # installs only: no exec
    assert len(recorder.calls) == 2
    assert compiled == [REPO_ROOT, REPO_ROOT], "the project's own modules are compiled after each sync"


def test_the_projects_own_packages_are_compiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # PYTHONDONTWRITEBYTECODE, as in CI
    (tmp_path / "mluv").mkdir()
    (tmp_path / "mluv" / "jobs.py").write_text("VALUE = 1\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "conf.py").write_text("VALUE = 2\n")

    assert bootstrap.compile_project(tmp_path)
    assert [path.name for path in (tmp_path / "mluv" / "__pycache__").iterdir()] == [
        f"jobs.{sys.implementation.cache_tag}.pyc"
    ]
    assert not (tmp_path / "docs" / "__pycache__").exists(), "only the project's packages"


def test_lint_imports_runs_in_an_environment_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    # import-linter pulls in rich, which structlog imports whenever it is installed (decision 48).
    booted = _Bootstrapped(monkeypatch)
    recorder, compiled = booted.recorder, booted.compiled
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")

    with pytest.raises(_Executed) as executed:
        bootstrap.main(["lint-imports", "--no-cache"])
    lint = REPO_ROOT / ".mluv" / "lint"
    [command] = recorder.calls
    assert command == bootstrap.lint_sync_command(Path("/x/uv"), REPO_ROOT, sys.executable)
    assert command[command.index("--only-group") + 1] == "lint"
    assert "--extra" not in command, "neither the project nor its dependencies"
    assert recorder.envs[0]["UV_PROJECT_ENVIRONMENT"] == str(lint)
    path, argv, env = executed.value.args
    assert argv == [str(lint / "bin" / "lint-imports"), "--no-cache"] and path == argv[0]
    assert env["PYTHONPATH"] == f"{REPO_ROOT}:/elsewhere", "it reads the project's sources from the root"
    assert compiled == []


def test_main_stops_when_uv_sync_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap, "find_uv", lambda root: Path("/x/uv"))
    monkeypatch.setattr(subprocess, "run", _Recorder(returncode=2).run)
    monkeypatch.setattr(os, "execve", _execve)
    assert bootstrap.main(["run"]) == 2


def test_runs_before_anything_is_installed() -> None:
    # -S: no site-packages at all, as on a fresh machine; the import must only need the standard library.
    code = (
        "import sys; import mluv.bootstrap; "
        "names = {m.split('.')[0] for m in sys.modules}; "
        "print(sorted(names - set(sys.stdlib_module_names) - {'mluv', '__main__'}))"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
    usage = subprocess.run(
        [sys.executable, "-S", "-m", "mluv.bootstrap", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert usage.returncode == 0
    assert "python3 -m mluv.bootstrap" in usage.stdout
