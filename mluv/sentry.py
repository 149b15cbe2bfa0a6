"""Optional error reporting to Sentry (SENTRY_DSN): `mluv serve`, `mluv dashboard` and standalone workers
call init_sentry.

Errors reach Sentry from log records at ERROR level: the jobs framework logs `job failed` with the
exception and the job's context (job_id, job_name, job_try, user_id, bound by structlog), aiogram and
aiohttp log unhandled handler errors, and aiohttp's integration reports handler exceptions. structlog hands
the standard library its event dict as the record's message; `before_send` turns it back into a readable
message, tags and extra data, with the exception and its stack trace. arq's integration stays off: a
standalone worker initialises Sentry in on_startup, after arq wrapped its functions, and the framework's
`job failed` line already reports every job failure once (arq's own failure line is ignored for the same
reason). Every event and breadcrumb is scrubbed: the bot token and every configured secret are redacted
from every string, cookies and authorization headers are dropped. Stack frames carry no local variables
(they hold learners' texts) and request bodies are never sent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import sentry_sdk
import structlog
from sentry_sdk.integrations.arq import ArqIntegration
from sentry_sdk.integrations.logging import LoggingIntegration, ignore_logger
from sentry_sdk.types import Event, Hint
from sentry_sdk.utils import event_from_exception

from mluv import __version__
from mluv.logs import REDACTED, get_logger, redact
from mluv.settings import Settings

log = get_logger(__name__)

JOB_TAGS = ("job_id", "job_name", "job_try", "user_id")
# structlog's own keys in an event dict, not worth sending as extra data.
STRUCTLOG_KEYS = frozenset(
    {"event", "exc_info", "level", "logger", "timestamp", "_record", "_from_structlog"}
)
# Header, cookie and field names whose values are dropped whole, whatever they contain.
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "cookie",
        "cookies",
        "set-cookie",
        "x-telegram-bot-api-secret-token",
        "x-csrf-token",
        "csrf",
        "token",
        "password",
        "dsn",
    }
)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {
            key: REDACTED if isinstance(key, str) and key.lower() in SENSITIVE_KEYS else _scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        # Header lists arrive as [name, value] pairs.
        if len(value) == 2 and isinstance(value[0], str) and value[0].lower() in SENSITIVE_KEYS:
            return [value[0], REDACTED]
        return [_scrub(item) for item in value]
    return value


def _structlog_dict(hint: Hint) -> dict[str, Any] | None:
    record = hint.get("log_record")
    message = getattr(record, "msg", None)
    return message if isinstance(message, dict) else None


def job_tags(fields: Mapping[str, Any]) -> dict[str, str]:
    """The job context: from the log line's fields, else from structlog's bound variables."""
    bound = structlog.contextvars.get_contextvars()
    return {
        name: str(source[name])
        for name in JOB_TAGS
        for source in (bound, fields)  # the log line's own fields win
        if source.get(name) is not None
    }


def before_send(event: Event, hint: Hint) -> Event | None:
    fields = _structlog_dict(hint) or {}
    if fields:
        event["logentry"] = {"message": str(fields.get("event", "")), "params": []}
        extra = dict(event.get("extra") or {})
        extra.update({k: v for k, v in fields.items() if k not in STRUCTLOG_KEYS and k not in JOB_TAGS})
        event["extra"] = extra
        error = fields.get("exc_info")
        if isinstance(error, BaseException) and "exception" not in event:
            # structlog keeps the exception in its dict (not on the record): attach it with its stack trace.
            exception_event, _ = event_from_exception(error, client_options=sentry_sdk.get_client().options)
            event["exception"] = exception_event["exception"]
    tags = dict(event.get("tags") or {})
    tags.update(job_tags(fields))
    event["tags"] = tags
    scrubbed: Event = _scrub(event)
    return scrubbed


def before_breadcrumb(crumb: dict[str, Any], hint: Hint) -> dict[str, Any] | None:
    fields = _structlog_dict(hint)
    if fields:
        crumb["message"] = str(fields.get("event", ""))
        crumb["data"] = {k: v for k, v in fields.items() if k not in STRUCTLOG_KEYS}
    scrubbed: dict[str, Any] = _scrub(crumb)
    return scrubbed


def init_sentry(settings: Settings, *, component: str, transport: Any = None) -> bool:
    """Start reporting when SENTRY_DSN is set; True if it did. `transport` is for tests."""
    if settings.sentry_dsn is None:
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.environment.value,
        release=f"mluv@{__version__}",
        server_name=None,
        # Request bodies are learners' messages (webhook): never sent.
        max_request_body_size="never",
        # Frames' local variables hold learners' texts and secrets: stack traces carry code lines only.
        include_local_variables=False,
        traces_sample_rate=0.0,
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
        integrations=[LoggingIntegration(event_level=logging.ERROR)],
        disabled_integrations=[ArqIntegration],
        transport=transport,
    )
    ignore_logger("arq.worker")
    sentry_sdk.set_tag("component", component)
    log.info("error reporting to Sentry is on", component=component)
    return True
