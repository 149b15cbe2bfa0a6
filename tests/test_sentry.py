"""Sentry: on only with SENTRY_DSN; a job failure arrives with its job context and without secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import sentry_sdk
from pydantic import SecretStr
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from mluv.jobs.queues import Queue
from mluv.jobs.retry import NO_RETRY
from mluv.jobs.run import CTX_RESOURCES, execute
from mluv.logs import configure_logging, get_logger
from mluv.sentry import before_send, init_sentry
from mluv.settings import Settings
from tests.web.conftest import BOT_TOKEN

FAKE_DSN = "https://0123456789abcdef0123456789abcdef@127.0.0.1:9/42"


class CapturingTransport(Transport):
    """Keeps the events instead of sending them (nothing leaves the machine)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        event = envelope.get_event()
        if event is not None:
            self.events.append(dict(event))


@pytest.fixture
def sentry_reset() -> Iterator[None]:
    yield
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def test_sentry_stays_off_without_a_dsn(settings: Settings, sentry_reset: None) -> None:
    assert init_sentry(settings, component="test") is False
    assert not sentry_sdk.get_client().is_active()


@pytest.mark.integration
async def test_a_job_failure_reaches_sentry_with_job_context_and_no_secret(
    settings: Settings, session_factory: Any, clean_tables: None, sentry_reset: None
) -> None:
    transport = CapturingTransport()
    configured = settings.model_copy(update={"sentry_dsn": SecretStr(FAKE_DSN)})
    configure_logging(level="INFO", json=True, secrets=configured.secret_values())
    assert init_sentry(configured, component="worker", transport=transport) is True

    async def failing(_: Any) -> None:
        raise RuntimeError(f"Telegram said no to https://api.telegram.org/bot{BOT_TOKEN}/sendMessage")

    ctx = {
        CTX_RESOURCES: SimpleNamespace(session_factory=session_factory),
        "job_id": "report:42",
        "job_try": 3,
    }
    with pytest.raises(RuntimeError):
        await execute(
            ctx,
            name="generate_weekly_report",
            queue=Queue.LONG,
            policy=NO_RETRY,
            time_limit=5,
            arguments={"user_id": 42, "note": BOT_TOKEN},
            call=failing,
        )
    sentry_sdk.flush()
    (event,) = [e for e in transport.events if e.get("logentry", {}).get("message") == "job failed"]
    assert event["tags"]["job_id"] == "report:42"
    assert event["tags"]["job_name"] == "generate_weekly_report"
    assert event["tags"]["job_try"] == "3"
    assert event["tags"]["user_id"] == "42"
    assert event["tags"]["component"] == "worker"
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert "bot[redacted]/sendMessage" in exception["value"]
    assert exception["stacktrace"]["frames"], "the stack trace is attached"
    assert BOT_TOKEN not in json.dumps(transport.events, default=str)
    assert len(transport.events) == 1, [e.get("logentry") for e in transport.events]


@pytest.mark.parametrize("via", ["capture_exception", "error_log_line"])
def test_stack_frames_carry_no_local_variables(settings: Settings, sentry_reset: None, via: str) -> None:
    transport = CapturingTransport()
    configured = settings.model_copy(update={"sentry_dsn": SecretStr(FAKE_DSN)})
    configure_logging(level="INFO", json=True, secrets=configured.secret_values())
    init_sentry(configured, component="web", transport=transport)
    learner_text = "Dnes jsem byl v Praze s babičkou"  # what a handler's frame holds

    def review(text: str) -> None:
        raise ValueError("review failed")

    try:
        review(learner_text)
    except ValueError as error:
        if via == "capture_exception":
            sentry_sdk.capture_exception(error)
        else:
            get_logger("tests.sentry").error("handler failed", exc_info=error)
    sentry_sdk.flush()
    (event,) = transport.events
    frames = event["exception"]["values"][0]["stacktrace"]["frames"]
    assert frames and not any("vars" in frame for frame in frames)
    assert learner_text not in json.dumps(event, default=str)


def test_before_send_drops_credentials_and_redacts_tokens() -> None:
    event: Any = {
        "message": f"failed for {BOT_TOKEN}",
        "request": {
            "url": "https://mluv.example/dashboard",
            "headers": {
                "Authorization": "Bearer abc",
                "Cookie": "mluv_dashboard=s3cret",
                "Accept": "text/html",
            },
            "cookies": {"mluv_dashboard": "s3cret"},
        },
        "extra": {"dsn": "postgresql://u:pw@db/x", "url": f"https://api.telegram.org/bot{BOT_TOKEN}/getMe"},
        "breadcrumbs": {"values": [{"message": f"GET /bot{BOT_TOKEN}/getMe"}]},
    }
    scrubbed = before_send(event, {})
    assert scrubbed is not None
    text = json.dumps(scrubbed)
    assert BOT_TOKEN not in text and "s3cret" not in text and "Bearer abc" not in text and ":pw@" not in text
    assert scrubbed["request"]["headers"]["Accept"] == "text/html"  # type: ignore[index]
