"""Install everything and start the app or the tests, on a machine that has only Python 3.11+.

    python3 -m mluv.bootstrap run  [args for `mluv serve`...]
    python3 -m mluv.bootstrap test [args for pytest...]
    python3 -m mluv.bootstrap sync

Standard library only, because it runs before anything is installed. uv comes from PATH when it is recent
enough, otherwise it is installed (pinned) into the private venv `.mluv/tools`. `uv sync --frozen --extra
embedded` then builds `.venv` exactly from uv.lock with this interpreter (the Dockerfile runs the same
sync), and the requested command replaces this process, so its exit code is ours.
"""

from __future__ import annotations

import compileall
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

UV_VERSION = "0.13.9"
# uv.lock's format moves forward with uv: an older uv on PATH may not read it.
MIN_UV_VERSION = (0, 13, 9)
# --compile-bytecode: processes (workers, the test suite's subprocesses) start without compiling every
# module they import, as in the image (Dockerfile: UV_COMPILE_BYTECODE=1); a sync with nothing new is instant.
SYNC_ARGS = ("sync", "--frozen", "--compile-bytecode", "--extra", "embedded")
# uv compiles site-packages only; the project is installed editable, so its own modules are compiled here,
# as the image's non-editable install has them (where PYTHONDONTWRITEBYTECODE is set, nothing else would).
PROJECT_PACKAGES = ("mluv", "workers", "bench")
# import-linter has an environment of its own (.mluv/lint, its dependency group only): it pulls in rich,
# which structlog imports whenever it is installed, ~0.1 s and 4 MB on every start of the project's
# processes (docs/decisions.md 48). It reads the project's sources, never imports them.
LINT_GROUP = "lint"
COMMANDS = ("run", "test", "sync", "lint-imports")
USAGE = """usage: python3 -m mluv.bootstrap {run,test,sync,lint-imports} [args...]

  run           install everything, then `mluv serve [args...]`
  test          install everything, then `python -m pytest [args...]`
  sync          install everything (uv sync --frozen --extra embedded); `sync --extra bench` adds SAQ
  lint-imports  install import-linter into .mluv/lint, then `lint-imports [args...]` (the layer contracts)
"""


class BootstrapError(Exception):
    """A step failed; the message says what to do."""


def step(message: str) -> None:
    # Flushed because os.execv replaces the process without flushing Python's buffers.
    print(f"bootstrap: {message}", flush=True)


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def bin_path(environment: Path, name: str) -> Path:
    if os.name == "nt":
        return environment / "Scripts" / f"{name}.exe"
    return environment / "bin" / name


def tools_dir(root: Path) -> Path:
    return root / ".mluv" / "tools"


def project_venv(root: Path, environ: Mapping[str, str]) -> Path:
    """Where uv sync puts the project's environment (it honours UV_PROJECT_ENVIRONMENT)."""
    configured = environ.get("UV_PROJECT_ENVIRONMENT")
    return root / configured if configured else root / ".venv"


def parse_uv_version(output: str) -> tuple[int, int, int] | None:
    match = re.match(r"uv (\d+)\.(\d+)\.(\d+)", output.strip())
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def uv_version(uv: Path) -> tuple[int, int, int] | None:
    try:
        result = subprocess.run(  # noqa: S603 (a uv binary we found)
            [str(uv), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_uv_version(result.stdout) if result.returncode == 0 else None


def find_uv(
    root: Path,
    *,
    which: Callable[[str], str | None] = shutil.which,
    version_of: Callable[[Path], tuple[int, int, int] | None] = uv_version,
) -> Path | None:
    """A usable uv: the one on PATH if recent enough, else one an earlier bootstrap installed."""
    candidates = []
    on_path = which("uv")
    if on_path:
        candidates.append(Path(on_path))
    candidates.append(bin_path(tools_dir(root), "uv"))
    for candidate in candidates:
        if candidate.exists():
            version = version_of(candidate)
            if version is not None and version >= MIN_UV_VERSION:
                return candidate
    return None


def pip_install_uv_command(tools: Path) -> list[str]:
    return [
        str(bin_path(tools, "python")),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
        f"uv=={UV_VERSION}",
    ]


def install_uv(root: Path) -> Path:
    """Install the pinned uv into `.mluv/tools` (a venv of its own, so nothing touches the system)."""
    tools = tools_dir(root)
    step(f"installing uv {UV_VERSION} into {tools.relative_to(root)}")
    tools.parent.mkdir(parents=True, exist_ok=True)
    created = subprocess.run(  # noqa: S603 (this interpreter)
        [sys.executable, "-m", "venv", "--clear", str(tools)], capture_output=True, text=True, check=False
    )
    if created.returncode != 0:
        raise BootstrapError(
            f"could not create a virtual environment with {sys.executable} -m venv:\n"
            f"{created.stderr.strip()}\n"
            "Install Python's venv module (Debian/Ubuntu: the python3-venv package) or install uv "
            "(https://docs.astral.sh/uv/) and run this command again."
        )
    installed = subprocess.run(pip_install_uv_command(tools), check=False)  # noqa: S603 (our venv's pip)
    uv = bin_path(tools, "uv")
    if installed.returncode != 0 or not uv.exists():
        raise BootstrapError(f"pip could not install uv=={UV_VERSION} (is PyPI reachable?)")
    return uv


def sync_command(uv: Path, root: Path, python: str, extras: Sequence[str] = ()) -> list[str]:
    # --python: use the interpreter that runs this script rather than one uv would pick or download.
    more = [arg for extra in extras for arg in ("--extra", extra)]
    return [str(uv), *SYNC_ARGS, *more, "--project", str(root), "--python", python]


def lint_venv(root: Path) -> Path:
    return root / ".mluv" / "lint"


def lint_sync_command(uv: Path, root: Path, python: str) -> list[str]:
    """Only the lint group, into `lint_venv` (UV_PROJECT_ENVIRONMENT): not the project, nor its deps."""
    return [
        str(uv),
        "sync",
        "--frozen",
        "--compile-bytecode",
        "--only-group",
        LINT_GROUP,
        "--project",
        str(root),
        "--python",
        python,
    ]


def sync_extras(args: Sequence[str]) -> list[str]:
    """`sync --extra bench`: optional dependency groups on top of the default ones (bench/run_all)."""
    flags, extras = list(args[0::2]), list(args[1::2])
    if len(flags) != len(extras) or any(flag != "--extra" for flag in flags):
        raise BootstrapError(f"sync takes only --extra NAME arguments, not {' '.join(args)}")
    return extras


def compile_project(root: Path) -> bool:
    """Write the bytecode of the project's own packages (a module compiled already is skipped)."""
    return all(
        compileall.compile_dir(root / package, quiet=1)
        for package in PROJECT_PACKAGES
        if (root / package).is_dir()
    )


def sync_env(environ: Mapping[str, str]) -> dict[str, str]:
    env = dict(environ)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    # uv warns when an activated venv is not the project's; the project's is the one we want.
    env.pop("VIRTUAL_ENV", None)
    return env


def exec_command(command: str, venv: Path, args: Sequence[str]) -> list[str]:
    if command == "run":
        return [str(bin_path(venv, "mluv")), "serve", *args]
    if command == "test":
        return [str(bin_path(venv, "python")), "-m", "pytest", *args]
    if command == "lint-imports":
        return [str(bin_path(venv, "lint-imports")), *args]
    raise ValueError(f"nothing to execute for {command!r}")


def exec_env(venv: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of an activated venv, so that subprocesses (arq, mluv) resolve to it too."""
    env = dict(environ)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join([str(bin_path(venv, "python").parent), env.get("PATH", os.defpath)])
    env.pop("PYTHONHOME", None)
    return env


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        sys.stdout.write(USAGE)
        return 0
    if not args or args[0] not in COMMANDS:
        sys.stderr.write(USAGE)
        return 2
    if sys.version_info < (3, 11):  # noqa: UP036 (this runs under whatever python3 is installed)
        sys.stderr.write(f"bootstrap: Python 3.11 or newer is needed, this is {sys.version.split()[0]}\n")
        return 1
    command, rest = args[0], args[1:]
    root = repo_root()
    if not (root / "uv.lock").is_file():
        sys.stderr.write(f"bootstrap: no uv.lock in {root}; run this from a clone of the repository\n")
        return 1
    try:
        uv = find_uv(root) or install_uv(root)
    except BootstrapError as error:
        sys.stderr.write(f"bootstrap: {error}\n")
        return 1
    try:
        extras = sync_extras(rest) if command == "sync" else []
    except BootstrapError as error:
        sys.stderr.write(f"bootstrap: {error}\n")
        return 2
    env = sync_env(os.environ)
    if command == "lint-imports":
        venv = lint_venv(root)
        command_line = lint_sync_command(uv, root, sys.executable)
        env["UV_PROJECT_ENVIRONMENT"] = str(venv)
    else:
        venv = project_venv(root, os.environ)
        command_line = sync_command(uv, root, sys.executable, extras)
    step(f"installing dependencies from uv.lock into {venv} with {uv}")
    synced = subprocess.run(command_line, env=env, check=False)  # noqa: S603
    if synced.returncode != 0:
        sys.stderr.write("bootstrap: uv sync failed (see above)\n")
        return synced.returncode
    if command != "lint-imports":
        compile_project(root)  # a module that does not compile fails where it is imported, with its error
    if command == "sync":
        step("done")
        return 0
    program = exec_command(command, venv, rest)
    program_env = exec_env(venv, os.environ)
    if command == "lint-imports":  # the project is not installed there: its packages are found from the root
        program_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    step(f"running {' '.join([Path(program[0]).name, *program[1:]])}")
    os.execve(program[0], program, program_env)  # noqa: S606 (our venv's entry point)


if __name__ == "__main__":
    sys.exit(main())
