"""Logging: redaction of tokens and secrets, JSON lines, and job context on standard library lines."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import yarl

from mluv.logs import REDACTED, configure_logging, get_logger, redact, set_secrets

TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ms"
SECRET = "s3cr3t-webhook-value"
DSN_PASSWORD = "hunter22"


@pytest.fixture(autouse=True)
def reset_logging() -> Iterator[None]:
    """Undo configure_logging: root handlers and levels, structlog's config, secrets, contextvars."""
    root = logging.getLogger()
    saved_handlers = [h for h in root.handlers if not type(h).__module__.startswith("_pytest")]
    saved_level = root.level
    saved_levels = {name: logging.getLogger(name).level for name in ("arq.worker", "aiohttp.access")}
    set_secrets(())
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter):
                root.removeHandler(handler)
        for handler in saved_handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()
        set_secrets(())


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]


# redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            f"POST https://api.telegram.org/bot{TOKEN}/getMe",
            f"POST https://api.telegram.org/bot{REDACTED}/getMe",
            id="bot-api-url",
        ),
        pytest.param(
            f"https://api.telegram.org/file/bot{TOKEN}/photos/1.jpg",
            f"https://api.telegram.org/file/bot{REDACTED}/photos/1.jpg",
            id="file-url",
        ),
        pytest.param(f"token={TOKEN} end", f"token={REDACTED} end", id="bare-token"),
        pytest.param(
            f"postgresql://u:{DSN_PASSWORD}@h/db",
            f"postgresql://u:{REDACTED}@h/db",
            id="dsn-password",
        ),
        pytest.param(
            f"connect to postgresql+asyncpg://mluv:{DSN_PASSWORD}@db.internal:5432/mluv?ssl=require failed",
            f"connect to postgresql+asyncpg://mluv:{REDACTED}@db.internal:5432/mluv?ssl=require failed",
            id="asyncpg-dsn-in-sentence",
        ),
        pytest.param("redis://:pw-77@cache:6379/0", f"redis://:{REDACTED}@cache:6379/0", id="redis-password"),
        pytest.param(
            "user 42 sent 3 messages at 12:30:00 via https://example.com/a?b=c",
            "user 42 sent 3 messages at 12:30:00 via https://example.com/a?b=c",
            id="no-secret-unchanged",
        ),
        pytest.param("postgresql://u@h/db", "postgresql://u@h/db", id="dsn-without-password-unchanged"),
        pytest.param("chat 123456789:short", "chat 123456789:short", id="short-after-colon-unchanged"),
        pytest.param("", "", id="empty"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_registered_secrets() -> None:
    set_secrets([SECRET, "", "sk-live-abcd"])
    assert redact(f"header X-Secret: {SECRET}; key=sk-live-abcd") == (
        f"header X-Secret: {REDACTED}; key={REDACTED}"
    )


def test_redact_longest_secret_first() -> None:
    # "abcdefgh" must not become "[redacted]efgh" because its prefix is also a secret.
    set_secrets(["abcd", "abcdefgh"])
    assert redact("x abcdefgh y abcd") == f"x {REDACTED} y {REDACTED}"


def test_set_secrets_replaces_the_previous_ones() -> None:
    set_secrets([SECRET])
    set_secrets(["other-secret"])
    assert redact(SECRET) == SECRET
    assert redact("other-secret") == REDACTED


# configure_logging


def test_json_logging_redacts_structlog_and_stdlib_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True, secrets=[SECRET])
    log = get_logger("mluv.test")
    log.info("calling bot api", url=f"https://api.telegram.org/bot{TOKEN}/getMe", header=SECRET)
    log.info("connecting", dsn=f"postgresql://u:{DSN_PASSWORD}@h/db", nested={"items": [SECRET, 1]})
    try:
        raise RuntimeError(f"request to https://api.telegram.org/bot{TOKEN}/sendMessage failed: {SECRET}")
    except RuntimeError as error:
        log.exception("structlog saw an error")
        logging.getLogger("aiogram.event").exception("aiogram saw an error for %s", TOKEN)
        logging.getLogger("aiohttp.client").error("plain stdlib error", exc_info=error)
        log.warning("error as a value", error=error)

    err = capsys.readouterr().err
    for secret in (TOKEN, TOKEN.split(":")[1], SECRET, DSN_PASSWORD):
        assert secret not in err
    records = json_lines(err)
    by_event = {record["event"]: record for record in records}
    assert set(by_event) == {
        "calling bot api",
        "connecting",
        "structlog saw an error",
        f"aiogram saw an error for {REDACTED}",
        "plain stdlib error",
        "error as a value",
    }
    assert by_event["calling bot api"]["url"] == f"https://api.telegram.org/bot{REDACTED}/getMe"
    assert by_event["calling bot api"]["header"] == REDACTED
    assert by_event["connecting"]["dsn"] == f"postgresql://u:{REDACTED}@h/db"
    assert by_event["connecting"]["nested"] == {"items": [REDACTED, 1]}
    for event in ("structlog saw an error", f"aiogram saw an error for {REDACTED}", "plain stdlib error"):
        record = by_event[event]
        assert record["level"] == "error"
        assert "Traceback (most recent call last)" in record["exception"]
        assert (
            f"RuntimeError: request to https://api.telegram.org/bot{REDACTED}/sendMessage"
            in (record["exception"])
        )
    assert by_event[f"aiogram saw an error for {REDACTED}"]["logger"] == "aiogram.event"
    assert by_event["error as a value"]["error"].startswith("RuntimeError: request to")
    assert all("timestamp" in record and record["timestamp"].endswith("Z") for record in records)


def test_console_logging_redacts_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=False, secrets=[SECRET])
    get_logger("mluv.test").info("console", url=f"https://api.telegram.org/bot{TOKEN}/getMe", other=SECRET)
    logging.getLogger("aiogram.dispatcher").warning("stdlib %s and %s", TOKEN, SECRET)
    err = capsys.readouterr().err
    assert "console" in err
    assert "stdlib" in err
    assert err.count(REDACTED) == 4
    assert TOKEN not in err
    assert SECRET not in err


def test_job_context_appears_in_stdlib_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True)
    with structlog.contextvars.bound_contextvars(
        job_id="reminder:2024-05-01:42", job_name="send_streak_reminder", job_try=2, user_id=42
    ):
        logging.getLogger("aiogram.event").warning("sending message")
        get_logger("mluv.test").info("structlog inside")
    logging.getLogger("aiogram.event").warning("after the job")

    records = {record["event"]: record for record in json_lines(capsys.readouterr().err)}
    context = {
        "job_id": "reminder:2024-05-01:42",
        "job_name": "send_streak_reminder",
        "job_try": 2,
        "user_id": 42,
    }
    for event in ("sending message", "structlog inside"):
        assert {key: records[event].get(key) for key in context} == context
    assert not set(context) & set(records["after the job"])


@pytest.mark.parametrize(
    ("level", "arq_worker_level"),
    [("INFO", logging.WARNING), ("WARNING", logging.WARNING), ("DEBUG", logging.DEBUG)],
)
def test_levels(level: str, arq_worker_level: int, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level=level, json=True)
    assert logging.getLogger().level == logging.getLevelName(level)
    assert logging.getLogger("arq.worker").level == arq_worker_level
    assert logging.getLogger("aiohttp.access").level == logging.WARNING
    logging.getLogger("arq.worker").info("j1 started")
    logging.getLogger("mluv.other").debug("debug line")
    logging.getLogger("mluv.other").warning("warning line")
    events = [record["event"] for record in json_lines(capsys.readouterr().err)]
    assert "warning line" in events
    assert ("j1 started" in events) is (level == "DEBUG")
    assert ("debug line" in events) is (level == "DEBUG")


def test_configure_logging_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True)
    configure_logging(json=True, secrets=[SECRET])
    root_handlers = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h.formatter, structlog.stdlib.ProcessorFormatter)
    ]
    assert len(root_handlers) == 1
    logging.getLogger("aiogram").warning("once %s", SECRET)
    assert [record["event"] for record in json_lines(capsys.readouterr().err)] == [f"once {REDACTED}"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            yarl.URL(f"https://api.telegram.org/bot{TOKEN}/getMe"),
            f"https://api.telegram.org/bot{REDACTED}/getMe",
            id="yarl-url",
        ),
        pytest.param(
            {f"https://api.telegram.org/bot{TOKEN}/getMe"},
            [f"https://api.telegram.org/bot{REDACTED}/getMe"],
            id="set",
        ),
        pytest.param({TOKEN: 1}, {REDACTED: 1}, id="dict-key"),
        pytest.param((SECRET, 2, None, True), [REDACTED, 2, None, True], id="tuple"),
        pytest.param(Path(f"/run/secrets/{SECRET}"), f"/run/secrets/{REDACTED}", id="path"),
    ],
)
def test_non_string_values_are_redacted(
    value: object, expected: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(json=True, secrets=[SECRET])
    get_logger("mluv.test").info("request", value=value)
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert SECRET not in err
    [record] = json_lines(err)
    assert record["event"] == "request"
    assert record["value"] == expected
