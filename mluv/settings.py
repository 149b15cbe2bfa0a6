"""All configuration, read once from the environment (and `.env`), validated and normalised.

Every variable is listed in `.env.example` and in the README's table. A wrong value raises
`SettingsError` whose message names the variable; secrets are `SecretStr` and DSN passwords are masked in
`repr`, so printing or logging a Settings object never leaks them.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class DatabasePooler(StrEnum):
    """What DATABASE_URL points at: PostgreSQL (or a session-mode pooler), or transaction-mode PgBouncer."""

    NONE = "none"
    PGBOUNCER_TRANSACTION = "pgbouncer-transaction"


class SettingsError(ValueError):
    """Configuration is invalid; the message names each offending environment variable."""


# Values copied from examples that must never reach production.
PLACEHOLDER_SECRETS = frozenset({"changethis", "changeme", "change-me", "secret", "password", "token", "xxx"})
BOT_TOKEN_RE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
# DASHBOARD_TOKEN and METRICS_TOKEN, in every environment: `secrets.token_urlsafe(32)` gives 43 characters.
MIN_TOKEN_LENGTH = 32
PASSWORD_HASH_RE = re.compile(r"scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_=-]+\$[A-Za-z0-9_=-]+")

DEFAULT_LLM_BASE_URL = "https://api.openai.com/v1"
DEFAULT_LLM_MODEL = "gpt-4o-mini"

# libpq's sslmode is not understood by asyncpg (Fly's Postgres URLs carry it): map it to asyncpg's `ssl`.
_SSLMODE_TO_ASYNCPG = {
    "disable": "disable",
    "allow": "allow",
    "prefer": "prefer",
    "require": "require",
    "verify-ca": "verify-ca",
    "verify-full": "verify-full",
}


def normalise_database_url(url: str) -> str:
    """Return a SQLAlchemy URL for asyncpg from any postgres://, postgresql:// or +asyncpg URL."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme in {
        "postgres",
        "postgresql",
        "postgresql+asyncpg",
        "postgresql+psycopg",
        "postgresql+psycopg2",
    }:
        scheme = "postgresql+asyncpg"
    else:
        raise ValueError("must be a PostgreSQL URL (postgres://, postgresql:// or postgresql+asyncpg://)")
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "sslmode":
            if value not in _SSLMODE_TO_ASYNCPG:
                raise ValueError(f"unknown sslmode {value!r}")
            query.append(("ssl", _SSLMODE_TO_ASYNCPG[value]))
        else:
            query.append((key, value))
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def is_loopback_host(host: str | None) -> bool:
    """localhost or a loopback address (127.0.0.0/8, ::1): traffic that never leaves the machine."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mask_url(url: str | None) -> str | None:
    """The URL with its password replaced by ***, for logs and reprs."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # `BOT_TOKEN=` (as in .env.example) means unset, not an empty token.
        env_ignore_empty=True,
    )

    environment: Environment = Environment.DEVELOPMENT

    # Telegram
    bot_token: SecretStr | None = None
    telegram_api_base: str | None = None
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None

    # The local Bot API sandbox that `mluv serve` starts when BOT_TOKEN and TELEGRAM_API_BASE are unset
    # (outside production), with a few simulated learners writing Czech.
    sandbox_port: int = Field(default=8081, ge=0, le=65535)
    sandbox_learners: int = Field(default=3, ge=0, le=10_000)
    sandbox_rate: float = Field(default=0.05, ge=0, le=1000)

    # Services; unset in development means "start embedded servers" (see mluv.embedded).
    database_url: str | None = None
    # PgBouncer in transaction mode needs asyncpg without statement reuse (docs/operations.md, "Connection
    # poolers and the connection budget"); explicit, because nothing in a URL proves which mode a pooler runs.
    database_pooler: DatabasePooler = DatabasePooler.NONE
    # Each process keeps this many connections open, plus as many again in bursts (SQLAlchemy's overflow).
    database_pool_size: int = Field(default=10, ge=1, le=500)
    # Processes sharing the database (fly.io: web, worker, longworker), for the start-up budget check.
    database_processes: int = Field(default=3, ge=1, le=10_000)
    redis_url: str | None = None
    # Prefix of every Redis key, queue and job id of this deployment ("mluv": the names before it existed);
    # another name lets two deployments share one Redis database (docs/operations.md).
    redis_namespace: str = Field(default="mluv", pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    # Who holds the namespace's deployment marker; unset: database name and host, and the bot's id.
    deployment_name: str | None = Field(default=None, min_length=1, max_length=200)
    data_dir: Path = Path(".mluv")

    # Web server (webhook, dashboard, metrics, health)
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=1, le=65535)
    dashboard_token: SecretStr | None = None
    # Or a scrypt hash of an operator password (`mluv dashboard --hash-password`); either one logs in.
    dashboard_password_hash: SecretStr | None = None
    # /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; or serve it unauthenticated on a private port.
    metrics_token: SecretStr | None = None
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"

    # Logging
    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON in production, console otherwise

    # Delivery rate limits (Telegram allows ~30/s overall, ~1/s per chat, 20/min per group)
    rate_limit_global_per_second: float = Field(default=25.0, gt=0, le=1000)
    rate_limit_per_chat_per_second: float = Field(default=1.0, gt=0, le=30)
    rate_limit_group_per_minute: int = Field(default=20, gt=0, le=60)
    # Paid broadcasts (allow_paid_broadcast, 0.1 Stars a message; 0: off), paced at this rate
    paid_broadcast_rate_per_second: float = Field(default=0.0, ge=0, le=1000)

    # Retention, in days, applied by cleanup_old_data
    retention_messages_days: int = Field(default=365, ge=1)
    retention_deliveries_days: int = Field(default=90, ge=1)
    retention_job_failures_days: int = Field(default=30, ge=1)
    retention_platform_metrics_days: int = Field(default=180, ge=1)
    retention_cron_runs_days: int = Field(default=90, ge=1)

    # Workers. A crashed job is re-run once its in-progress key expires (its worker's longest timeout
    # + 10 s, arq), so the fast queue keeps short timeouts to stay within a minute.
    # The workers in the serving process (`mluv serve`), or none there: `mluv worker` runs them. "Embedded"
    # means the local PostgreSQL/Redis servers (mluv.embedded); WORKER_EMBEDDED is the old name, still read.
    workers_in_process: bool = Field(
        default=True, validation_alias=AliasChoices("workers_in_process", "worker_embedded")
    )
    worker_max_jobs: int = Field(default=50, ge=1, le=1000)
    worker_poll_delay: float = Field(default=0.05, gt=0, le=5)
    # mluv worker polls when an enqueue wakes it; this is its safety-net poll when no wake comes.
    worker_idle_poll: float = Field(default=2.0, gt=0, le=60)
    worker_completion_wait: int = Field(default=25, ge=0, le=600)
    fast_job_timeout: int = Field(default=30, ge=1, le=45)
    long_job_timeout: int = Field(default=300, ge=1)
    job_keep_result: int = Field(default=3600, ge=0)
    health_check_cron_seconds: int = Field(default=300, ge=1, le=3600)
    worker_heartbeat_seconds: int = Field(default=15, ge=1, le=60)
    # A standalone worker answers GET /healthz on this port (fly.io checks need HTTP); unset = no server.
    worker_health_port: int | None = Field(default=None, ge=1, le=65535)

    # More job modules to register (comma-separated import paths), next to those of the `workers` package.
    extra_job_modules: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Optional integrations
    sentry_dsn: SecretStr | None = None

    # The LLM reviewer (mluv.reviewers), on when LLM_API_KEY is set: any OpenAI-compatible endpoint.
    # OPENAI_API_KEY is the old name of the key, still read.
    llm_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("llm_api_key", "openai_api_key")
    )
    llm_base_url: str = DEFAULT_LLM_BASE_URL
    llm_model: str = Field(default=DEFAULT_LLM_MODEL, min_length=1, max_length=200)
    # Seconds for one request; the review job's own timeout (25 s) must leave room for the fallback.
    llm_timeout: float = Field(default=15.0, gt=0, le=20)
    # Online reviews per learner and in total per UTC day; past either, the offline reviewer answers.
    llm_daily_reviews_per_learner: int = Field(default=30, ge=0, le=10_000)
    llm_daily_reviews: int = Field(default=2000, ge=0, le=10_000_000)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_admin_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            items = [item.strip() for item in value.split(",") if item.strip()]
            bad = [item for item in items if not item.lstrip("-").isdigit()]
            if bad:
                raise ValueError(f"comma-separated Telegram ids expected, got {', '.join(bad)!r}")
            return [int(item) for item in items]
        return value

    @field_validator("extra_job_modules", mode="before")
    @classmethod
    def _split_modules(cls, value: Any) -> Any:
        if isinstance(value, str):
            modules = [item.strip() for item in value.split(",") if item.strip()]
            bad = [m for m in modules if not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*", m)]
            if bad:
                raise ValueError(f"comma-separated Python module paths expected, got {', '.join(bad)!r}")
            return modules
        return value

    @field_validator("health_check_cron_seconds")
    @classmethod
    def _divides_minute_or_hour(cls, value: int) -> int:
        # arq cron fields are sets of seconds/minutes: the interval must tile a minute or an hour.
        if not ((value < 60 and 60 % value == 0) or (value % 60 == 0 and 3600 % value == 0)):
            raise ValueError("must divide a minute (1-30 s) or an hour (60, 120, ... 3600 s) evenly")
        return value

    @field_validator("database_url", mode="before")
    @classmethod
    def _normalise_database_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            return normalise_database_url(value) if value.strip() else None
        return value

    @field_validator("redis_url", mode="before")
    @classmethod
    def _check_redis_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if value and urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
                raise ValueError("must start with redis://, rediss:// or unix://")
            return value or None
        return value

    @field_validator("telegram_api_base", "webhook_url", mode="before")
    @classmethod
    def _check_http_url(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip():
            if urlsplit(value.strip()).scheme not in {"http", "https"}:
                raise ValueError("must be an http:// or https:// URL")
            return value.strip().rstrip("/")
        return value or None

    @field_validator("llm_base_url", mode="before")
    @classmethod
    def _check_llm_base_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = urlsplit(value.strip())
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise ValueError("must be an http:// or https:// URL (e.g. https://api.openai.com/v1)")
            if parts.query or parts.fragment:
                raise ValueError("must have no query or fragment: /chat/completions is appended to it")
            return value.strip().rstrip("/")
        return value

    @field_validator("llm_model", mode="before")
    @classmethod
    def _strip_llm_model(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator(
        "bot_token",
        "webhook_secret",
        "dashboard_token",
        "dashboard_password_hash",
        "metrics_token",
        "llm_api_key",
        mode="before",
    )
    @classmethod
    def _strip_secret(cls, value: Any) -> Any:
        # Secrets read from files or pasted into `fly secrets` often carry a trailing newline.
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("dashboard_password_hash", mode="after")
    @classmethod
    def _check_password_hash(cls, value: SecretStr | None) -> SecretStr | None:
        # A malformed hash would make every login fail silently: refuse it at start instead.
        if value is not None and not PASSWORD_HASH_RE.fullmatch(value.get_secret_value()):
            raise ValueError("must be the output of `mluv dashboard --hash-password` (scrypt$...)")
        return value

    @field_validator("bot_token", mode="after")
    @classmethod
    def _check_bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not BOT_TOKEN_RE.fullmatch(value.get_secret_value()):
            raise ValueError("does not look like a Telegram bot token (digits:letters)")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _check_log_level(cls, value: Any) -> Any:
        if isinstance(value, str):
            level = value.strip().upper()
            if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
                raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
            return level
        return value

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        secrets = {
            "bot_token": self.bot_token,
            "webhook_secret": self.webhook_secret,
            "dashboard_token": self.dashboard_token,
            "metrics_token": self.metrics_token,
        }
        for name, secret in secrets.items():
            if secret is not None and secret.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(f"{name.upper()}: is a placeholder value; set a real secret")
        for name in ("dashboard_token", "metrics_token"):
            secret = getattr(self, name)
            if secret is not None and len(secret.get_secret_value()) < MIN_TOKEN_LENGTH:
                raise ValueError(
                    f"{name.upper()}: must be at least {MIN_TOKEN_LENGTH} characters "
                    "(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
                )
        if self.environment is Environment.PRODUCTION:
            # Webhook only: two machines long polling take turns getting 409 Conflict from getUpdates.
            missing = [
                name.upper()
                for name in ("bot_token", "database_url", "redis_url", "webhook_url", "webhook_secret")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"{', '.join(missing)}: required in production")
            # The bot token is part of every Bot API URL, the LLM key of every request: only loopback may
            # skip TLS.
            for variable, url in (
                ("TELEGRAM_API_BASE", self.telegram_api_base),
                ("LLM_BASE_URL", self.llm_base_url),
            ):
                parts = urlsplit(url or "https://")
                if parts.scheme != "https" and not is_loopback_host(parts.hostname):
                    raise ValueError(f"{variable}: must be https:// in production (unless it is loopback)")
        if self.webhook_secret is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", self.webhook_secret.get_secret_value()
        ):
            # Telegram only accepts these characters in secret_token (setWebhook).
            raise ValueError("WEBHOOK_SECRET: 1-256 characters of A-Z, a-z, 0-9, _ and - only")
        if self.paid_broadcast_rate_per_second + self.rate_limit_global_per_second > 1000:  # Telegram's max
            raise ValueError("PAID_BROADCAST_RATE_PER_SECOND + RATE_LIMIT_GLOBAL_PER_SECOND: over 1000/s")
        return self

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name in {"database_url", "redis_url"}:
                yield name, mask_url(value)
            else:
                yield name, value

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def uses_sandbox(self) -> bool:
        """No Telegram configured (development): serve starts the local Bot API sandbox."""
        return not self.is_production and self.bot_token is None and self.telegram_api_base is None

    @property
    def json_logs(self) -> bool:
        return self.is_production if self.log_json is None else self.log_json

    def secret_values(self) -> list[str]:
        """Every secret string, for log redaction."""
        values = [
            secret.get_secret_value()
            for secret in (
                self.bot_token,
                self.webhook_secret,
                self.dashboard_token,
                self.dashboard_password_hash,
                self.metrics_token,
                self.sentry_dsn,
                self.llm_api_key,
            )
            if secret is not None
        ]
        for url in (self.database_url, self.redis_url):
            password = urlsplit(url).password if url else None
            if password:
                values.append(password)
        return [value for value in values if len(value) >= 4]


def variable_names() -> frozenset[str]:
    """Every environment variable Settings reads, old names (aliases) included, uppercase."""
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        names.add(name.upper())
        if isinstance(field.validation_alias, AliasChoices):
            names.update(str(choice).upper() for choice in field.validation_alias.choices)
    return frozenset(names)


def format_validation_error(error: ValidationError) -> str:
    lines = ["Invalid configuration:"]
    for item in error.errors():
        variable = "_".join(str(part) for part in item["loc"]).upper()
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"  {variable}: {message}" if variable else f"  {message}")
    return "\n".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning pydantic's error into one message per offending variable."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(format_validation_error(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return load_settings()
