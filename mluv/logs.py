"""Logging: structlog for our code and the standard library's loggers (aiogram, aiohttp, arq) alike.

JSON lines in production, a readable console in development. Every line passes through `redact`, which
removes the bot token (it appears in Bot API URLs: /bot<token>/method) and every other configured secret,
including inside exception tracebacks. Inside a job, the jobs framework binds job_id, job_name, job_try
and user_id with structlog's contextvars, so every line logged while the job runs carries them.
"""

from __future__ import annotations

import logging
import logging.config
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

# Telegram bot tokens look like 123456789:AAE...; they leak through request URLs and exception texts.
BOT_TOKEN_PATTERN = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")
# user:password@ in any URL (DSNs of PostgreSQL/Redis).
URL_PASSWORD_PATTERN = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")
REDACTED = "[redacted]"

_extra_secrets: tuple[str, ...] = ()


def set_secrets(secrets: Iterable[str]) -> None:
    """Register literal secret values (tokens, passwords) that must never be printed."""
    global _extra_secrets
    _extra_secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))


def redact(text: str) -> str:
    """Remove bot tokens, URL passwords and registered secrets from a string."""
    for secret in _extra_secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if ":" not in text:  # both patterns need one; most values (ids, names, events) have none
        return text
    text = BOT_TOKEN_PATTERN.sub(REDACTED, text)
    return URL_PASSWORD_PATTERN.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)


def _redact_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {_redact_value(key): _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item) for item in value]
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    # Anything else (yarl.URL, models) would be repr()'d by the renderer after redaction: render it now.
    return redact(str(value))


# Filled in by our own processors (TimeStamper, add_log_level, add_logger_name): nothing to redact.
_OWN_KEYS = frozenset({"timestamp", "level", "logger"})


def redact_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor; must run after format_exc_info so tracebacks are strings by then."""
    for key, value in list(event_dict.items()):
        if key not in _OWN_KEYS:
            event_dict[key] = _redact_value(value)
    return event_dict


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.PositionalArgumentsFormatter(),
    ]


def configure_logging(*, level: str = "INFO", json: bool = False, secrets: Iterable[str] = ()) -> None:
    """Configure structlog and the standard library's root logger (idempotent)."""
    set_secrets(secrets)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    # The traceback must be a string before redaction, so format it here (not in the renderer).
    final = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
        structlog.processors.format_exc_info,
        redact_processor,
        renderer,
    ]
    formatter = structlog.stdlib.ProcessorFormatter(foreign_pre_chain=_shared_processors(), processors=final)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    # No line shows the caller's file, thread or process: skip the stack walk and lookups per record
    # (logging's documented optimisations; about a tenth of a job's own cost in bench/job_overhead.py).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # arq logs two lines per job without job context (~20% of throughput); the jobs framework logs one.
    logging.getLogger("arq.worker").setLevel(level if level == "DEBUG" else logging.WARNING)
    # aiohttp's access log duplicates what the web layer already reports at debug level.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    structlog.configure(
        # filter_by_level first: a line below the level is dropped before the chain renders it for nothing.
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
