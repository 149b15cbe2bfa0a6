"""The `mluv` command: serve, dashboard, migrate, worker, jobs (dead letters), redis (the marker)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from mluv import __version__
from mluv.logs import configure_logging
from mluv.settings import Settings, SettingsError, load_settings


def _settings() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(level=settings.log_level, json=settings.json_logs, secrets=settings.secret_values())
    return settings


def _refused(error: Exception) -> int:
    # Another deployment holds this Redis: the message says which and the ways out, no traceback.
    print(error, file=sys.stderr)
    return 3


def cmd_serve(args: argparse.Namespace) -> int:
    from mluv.jobs.deployment import DeploymentConflictError
    from mluv.serve import serve

    try:
        asyncio.run(serve(_settings(), migrate=not args.no_migrate))
    except DeploymentConflictError as error:
        return _refused(error)
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    if args.hash_password:
        import getpass

        from mluv.web.auth import hash_password

        password = getpass.getpass("Dashboard password: ") if sys.stdin.isatty() else sys.stdin.readline()
        try:
            print(hash_password(password.rstrip("\n")))
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2
        return 0
    import workers  # noqa: F401 - the catalogue: its crons are listed, its dead letters retried by name
    from mluv.serve import serve_dashboard
    from mluv.worker import load_extra_job_modules

    settings = _settings()
    load_extra_job_modules()
    overrides = {k: v for k, v in (("web_host", args.host), ("web_port", args.port)) if v is not None}
    asyncio.run(serve_dashboard(settings.model_copy(update=overrides)))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from mluv.db.migrate import check, upgrade
    from mluv.resources import with_service_urls

    settings = with_service_urls(_settings())
    assert settings.database_url is not None
    if args.check:
        asyncio.run(check(settings.database_url))
        print("no drift: the models match the migrations")
    else:
        asyncio.run(upgrade(settings.database_url, args.revision))
        print(f"database upgraded to {args.revision}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from arq.worker import check_health

    import workers

    _settings()
    settings_class = getattr(workers, "WorkerSettings" if args.queue == "fast" else "LongWorkerSettings")
    if args.check:
        return check_health(settings_class)
    from mluv.jobs.deployment import DeploymentConflictError
    from mluv.worker import create_worker

    try:
        create_worker(settings_class, **({"burst": True} if args.burst else {})).run()
    except DeploymentConflictError as error:
        return _refused(error)
    return 0


def cmd_redis_release_marker(args: argparse.Namespace) -> int:
    """Retire a deployment's claim on this Redis namespace (the marker never expires by itself)."""
    from redis.asyncio import Redis

    from mluv.jobs.deployment import read_marker, release_deployment, settings_namespace
    from mluv.resources import with_service_urls

    settings = with_service_urls(_settings())
    assert settings.redis_url is not None
    namespace = settings_namespace(settings)

    async def action() -> int:
        redis = Redis.from_url(settings.redis_url or "")
        try:
            holder = await read_marker(redis, namespace)
            if holder is None:
                print(f"no deployment marker in namespace {namespace.name!r}")
                return 0
            if args.deployment != holder:
                print(
                    f"namespace {namespace.name!r} belongs to deployment {holder!r}; to release it, run "
                    f"`mluv redis release-marker --deployment '{holder}'` once that deployment is stopped",
                    file=sys.stderr,
                )
                return 1
            released = await release_deployment(redis, namespace, holder)
            print(
                f"released namespace {namespace.name!r} from {holder!r}" if released else "nothing released"
            )
            return 0 if released else 1
        finally:
            await redis.aclose()

    return asyncio.run(action())


async def _with_resources(action: Callable[[Any], Awaitable[int]]) -> int:
    import workers  # noqa: F401 - every job registered, so failures can be re-enqueued by name
    from mluv.resources import Resources, with_service_urls
    from mluv.worker import load_extra_job_modules

    load_extra_job_modules()
    resources = await Resources.create(with_service_urls(_settings()))
    try:
        return await action(resources)
    finally:
        await resources.close()


def cmd_jobs_failures(args: argparse.Namespace) -> int:
    from mluv.jobs.failures import list_failures

    async def action(resources: Any) -> int:
        status = None if args.status == "all" else args.status
        rows = await list_failures(resources.session_factory, status=status, limit=args.limit)
        for row in rows:
            when = f"{row.failed_at:%Y-%m-%d %H:%M:%S}"
            print(f"{row.id:>6}  {when}  {row.status:<9} {row.job_name:<32} {row.error}")
        print(f"{len(rows)} job failure(s)")
        return 0

    return asyncio.run(_with_resources(action))


def cmd_jobs_retry(args: argparse.Namespace) -> int:
    from mluv.jobs.failures import FailureNotFoundError, FailureNotOpenError
    from mluv.jobs.operations import retry_failure

    async def action(resources: Any) -> int:
        try:
            retried = await retry_failure(resources.session_factory, resources.pool, args.id)
        except (FailureNotFoundError, FailureNotOpenError) as error:
            print(error, file=sys.stderr)
            return 1
        print(f"re-enqueued {retried.job_name} as job {retried.new_job_id}")
        return 0

    return asyncio.run(_with_resources(action))


def cmd_jobs_discard(args: argparse.Namespace) -> int:
    from mluv.jobs.failures import FailureNotFoundError, discard_failure

    async def action(resources: Any) -> int:
        try:
            await discard_failure(resources.session_factory, args.id)
        except FailureNotFoundError as error:
            print(error, file=sys.stderr)
            return 1
        print(f"discarded job failure {args.id}")
        return 0

    return asyncio.run(_with_resources(action))


def cmd_jobs_ping(args: argparse.Namespace) -> int:
    async def action(resources: Any) -> int:
        from workers.maintenance import ping, ping_long

        declared = ping if args.queue == "fast" else ping_long
        job = await declared.enqueue(resources.pool, token=args.token, work_seconds=args.work)
        assert job is not None
        try:
            result = await job.result(timeout=args.timeout)  # pushed by the worker (mluv.jobs.results)
        except TimeoutError:
            print(
                f"no answer within {args.timeout} s: is a worker running for the fast queue?", file=sys.stderr
            )
            return 1
        print(f"pong from {result['worker']} (job {job.job_id}, try {result['job_try']})")
        return 0

    return asyncio.run(_with_resources(action))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mluv", description="Mluv.Me backend: bot, workers, web.")
    parser.add_argument("--version", action="version", version=f"mluv {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="web server + bot + in-process workers (migrates first)")
    serve.add_argument("--no-migrate", action="store_true", help="do not run migrations at start")
    serve.set_defaults(handler=cmd_serve)

    dashboard = commands.add_parser("dashboard", help="the operations dashboard and /metrics alone")
    dashboard.add_argument("--host", help="address to bind (default WEB_HOST)")
    dashboard.add_argument("--port", type=int, help="port (default WEB_PORT)")
    dashboard.add_argument(
        "--hash-password", action="store_true", help="read a password, print a DASHBOARD_PASSWORD_HASH value"
    )
    dashboard.set_defaults(handler=cmd_dashboard)

    commands.add_parser(
        "sandbox", help="the local Telegram Bot API sandbox (mluv sandbox --help)", add_help=False
    )

    migrate = commands.add_parser("migrate", help="upgrade the database schema")
    migrate.add_argument("--check", action="store_true", help="fail if the models drift from the migrations")
    migrate.add_argument("--revision", default="head")
    migrate.set_defaults(handler=cmd_migrate)

    worker = commands.add_parser("worker", help="run a worker (sleeps until an enqueue wakes it)")
    worker.add_argument("--queue", default="fast", choices=["fast", "long"])
    worker.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    worker.add_argument("--check", action="store_true", help="exit 0 if a worker heartbeat is fresh")
    worker.set_defaults(handler=cmd_worker)

    jobs = commands.add_parser("jobs", help="dead letters: list, retry, discard").add_subparsers(
        dest="jobs_command", required=True
    )
    failures = jobs.add_parser("failures", help="list failed jobs")
    failures.add_argument("--status", default="open", choices=["open", "retried", "discarded", "all"])
    failures.add_argument("--limit", type=int, default=50)
    failures.set_defaults(handler=cmd_jobs_failures)
    retry = jobs.add_parser("retry", help="enqueue a failed job again")
    retry.add_argument("id", type=int)
    retry.set_defaults(handler=cmd_jobs_retry)
    discard = jobs.add_parser("discard", help="close a failed job without running it")
    discard.add_argument("id", type=int)
    discard.set_defaults(handler=cmd_jobs_discard)
    ping = jobs.add_parser("ping", help="run a diagnostic job and wait for its answer")
    ping.add_argument("--queue", default="fast", choices=["fast", "long"])
    ping.add_argument("--token", default="ping")
    ping.add_argument("--work", type=float, default=0.0, help="seconds of simulated work")
    ping.add_argument("--timeout", type=float, default=10.0)
    ping.set_defaults(handler=cmd_jobs_ping)

    redis = commands.add_parser(
        "redis", help="this deployment's claim on its Redis namespace"
    ).add_subparsers(dest="redis_command", required=True)
    release = redis.add_parser("release-marker", help="retire a deployment's marker (shows it when unnamed)")
    release.add_argument("--deployment", help="the identity the marker holds (as printed when refused)")
    release.set_defaults(handler=cmd_redis_release_marker)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["sandbox"]:
        # The sandbox has its own parser (mluv.telegram.sandbox.runner): hand it the rest unparsed.
        from mluv.telegram.sandbox import main as sandbox_main

        return sandbox_main(arguments[1:])
    args = build_parser().parse_args(arguments)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
