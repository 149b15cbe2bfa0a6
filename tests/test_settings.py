"""Settings: normalisation and validation of every variable, errors naming it, secrets never printed."""

from __future__ import annotations

import os
from typing import Any

import pytest

from mluv.settings import (
    MIN_TOKEN_LENGTH,
    Environment,
    Settings,
    SettingsError,
    load_settings,
    mask_url,
    normalise_database_url,
    variable_names,
)

BOT_TOKEN = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ms"
WEBHOOK_SECRET = "wh-Secret_0123456789"
DASHBOARD_TOKEN = "dash-token-value-42-0123456789abcdef"
DSN_PASSWORD = "hunter22"
REDIS_PASSWORD = "redis-pw-77"
# The least a production configuration needs.
PRODUCTION: dict[str, Any] = {
    "environment": "production",
    "bot_token": BOT_TOKEN,
    "database_url": "postgres://u:p@db/mluv",
    "redis_url": "redis://cache:6379/0",
    "webhook_url": "https://bot.example.com/telegram/webhook",
    "webhook_secret": WEBHOOK_SECRET,
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's variables (BOT_TOKEN, DATABASE_URL, ...) must not leak into these tests."""
    for variable in list(os.environ):
        if variable.upper() in variable_names():  # old names too: OPENAI_API_KEY would reach the real API
            monkeypatch.delenv(variable)


def settings_from(**overrides: Any) -> Settings:
    return load_settings(_env_file=None, **overrides)


def error_of(**overrides: Any) -> str:
    with pytest.raises(SettingsError) as caught:
        settings_from(**overrides)
    return str(caught.value)


# DATABASE_URL


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(
            "postgres://u:p@db.internal:5432/mluv",
            "postgresql+asyncpg://u:p@db.internal:5432/mluv",
            id="postgres-scheme",
        ),
        pytest.param("postgresql://u:p@h/mluv", "postgresql+asyncpg://u:p@h/mluv", id="postgresql-scheme"),
        pytest.param("postgresql+asyncpg://u:p@h/mluv", "postgresql+asyncpg://u:p@h/mluv", id="asyncpg-kept"),
        pytest.param("postgresql+psycopg2://u@h/mluv", "postgresql+asyncpg://u@h/mluv", id="psycopg2-driver"),
        pytest.param("POSTGRES://u@h/mluv", "postgresql+asyncpg://u@h/mluv", id="upper-case-scheme"),
        pytest.param("  postgres://u@h/mluv\n", "postgresql+asyncpg://u@h/mluv", id="whitespace-stripped"),
        pytest.param(
            "postgres://u:p@h/mluv?sslmode=require",
            "postgresql+asyncpg://u:p@h/mluv?ssl=require",
            id="sslmode-require",
        ),
        pytest.param(
            "postgres://u:p@h/mluv?sslmode=disable",
            "postgresql+asyncpg://u:p@h/mluv?ssl=disable",
            id="sslmode-disable",
        ),
        pytest.param(
            "postgres://u:p@h/mluv?application_name=mluv&sslmode=verify-full",
            "postgresql+asyncpg://u:p@h/mluv?application_name=mluv&ssl=verify-full",
            id="sslmode-among-other-params",
        ),
        pytest.param(
            "postgresql://u:p@h/mluv?connect_timeout=5",
            "postgresql+asyncpg://u:p@h/mluv?connect_timeout=5",
            id="other-params-kept",
        ),
    ],
)
def test_database_url_is_normalised_for_asyncpg(
    given: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert normalise_database_url(given) == expected
    assert settings_from(database_url=given).database_url == expected
    monkeypatch.setenv("DATABASE_URL", given)
    assert settings_from().database_url == expected


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        pytest.param("postgres://u@h/mluv?sslmode=bogus", "unknown sslmode 'bogus'", id="unknown-sslmode"),
        pytest.param("mysql://u:p@h/mluv", "must be a PostgreSQL URL", id="mysql"),
        pytest.param("sqlite:///mluv.db", "must be a PostgreSQL URL", id="sqlite"),
        pytest.param("db.internal:5432/mluv", "must be a PostgreSQL URL", id="no-scheme"),
    ],
)
def test_bad_database_url_is_an_error_naming_database_url(given: str, fragment: str) -> None:
    message = error_of(database_url=given)
    assert "DATABASE_URL: " in message
    assert fragment in message


def test_database_url_error_does_not_echo_the_password() -> None:
    message = error_of(database_url=f"mysql://u:{DSN_PASSWORD}@h/mluv")
    assert "DATABASE_URL" in message
    assert DSN_PASSWORD not in message


def test_empty_service_urls_mean_unset() -> None:
    settings = settings_from(database_url="", redis_url="")
    assert (settings.database_url, settings.redis_url) == (None, None)


@pytest.mark.parametrize("variable", ["database_url", "redis_url"])
@pytest.mark.parametrize("blank", ["   ", "\n", " \t "], ids=["spaces", "newline", "tab"])
def test_blank_service_url_means_unset(variable: str, blank: str) -> None:
    assert getattr(settings_from(**{variable: blank}), variable) is None


def test_blank_service_urls_count_as_missing_in_production() -> None:
    message = error_of(**PRODUCTION | {"database_url": "  ", "redis_url": "\n"})
    assert "  DATABASE_URL, REDIS_URL: required in production" in message.splitlines()


# REDIS_URL


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("redis://localhost:6379/0", "redis://localhost:6379/0", id="redis"),
        pytest.param("rediss://:pw@cache.internal:6380/1", "rediss://:pw@cache.internal:6380/1", id="rediss"),
        pytest.param("unix:///run/redis.sock?db=2", "unix:///run/redis.sock?db=2", id="unix-socket"),
        pytest.param(" redis://h:6379 ", "redis://h:6379", id="whitespace-stripped"),
        pytest.param("", None, id="empty-is-unset"),
    ],
)
def test_redis_url_schemes_accepted(given: str, expected: str | None) -> None:
    assert settings_from(redis_url=given).redis_url == expected


@pytest.mark.parametrize(
    "given",
    ["http://localhost:6379", "localhost:6379", "memcached://h:11211", "tcp://h:6379"],
    ids=["http", "host-port-only", "memcached", "tcp"],
)
def test_redis_url_other_schemes_refused(given: str) -> None:
    message = error_of(redis_url=given)
    assert "REDIS_URL: must start with redis://, rediss:// or unix://" in message


# ADMIN_IDS (read from the environment as a comma-separated string)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("1, 2,3", [1, 2, 3], id="spaces-around-commas"),
        pytest.param("42", [42], id="single"),
        pytest.param("", [], id="empty"),
        pytest.param(" 7 , , 8 ,", [7, 8], id="blank-items-ignored"),
        pytest.param("-1001234567890,5", [-1001234567890, 5], id="negative-chat-id"),
    ],
)
def test_admin_ids_parsed_from_environment(
    given: str, expected: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADMIN_IDS", given)
    assert settings_from().admin_ids == expected


@pytest.mark.parametrize(
    ("given", "bad"),
    [
        pytest.param("1,abc", "abc", id="letters"),
        pytest.param("1;2", "1;2", id="semicolon"),
        pytest.param("[1, 2]", "[1", id="json-list"),
        pytest.param("1.5", "1.5", id="decimal"),
    ],
)
def test_bad_admin_ids_error_names_admin_ids(given: str, bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", given)
    with pytest.raises(SettingsError) as caught:
        settings_from()
    message = str(caught.value)
    assert "ADMIN_IDS: comma-separated Telegram ids expected" in message
    assert bad in message


def test_admin_ids_as_a_list_passes_through() -> None:
    assert settings_from(admin_ids=[5, 6]).admin_ids == [5, 6]


# BOT_TOKEN


@pytest.mark.parametrize(
    "token",
    [BOT_TOKEN, "1234:" + "a_b-" * 5, "987:" + "Z" * 20],
    ids=["real-looking", "underscore-and-dash", "minimal-lengths"],
)
def test_bot_token_format_accepted(token: str) -> None:
    settings = settings_from(bot_token=token)
    assert settings.bot_token is not None
    assert settings.bot_token.get_secret_value() == token


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "12:" + "A" * 30,  # the bot id has at least 3 digits
        "123456:" + "A" * 19,  # the secret part has at least 20 characters
        "123456:" + "A" * 25 + "!",
        "123456 " + "A" * 30,
        "abc:" + "A" * 30,
        BOT_TOKEN + " x",
    ],
    ids=["words", "short-id", "short-secret", "bad-char", "no-colon", "letters-in-id", "inner-space"],
)
def test_bot_token_format_refused(token: str) -> None:
    message = error_of(bot_token=token)
    assert "BOT_TOKEN: does not look like a Telegram bot token" in message
    assert token.strip() not in message


@pytest.mark.parametrize(
    "given",
    [BOT_TOKEN + "\n", " " + BOT_TOKEN, f"\t{BOT_TOKEN} \r\n"],
    ids=["trailing-newline", "leading-space", "both-sides"],
)
def test_bot_token_is_stripped(given: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Secrets read from files or pasted into a secrets store often carry a trailing newline.
    from_kwargs = settings_from(bot_token=given)
    monkeypatch.setenv("BOT_TOKEN", given)
    from_env = settings_from()
    for settings in (from_kwargs, from_env):
        assert settings.bot_token is not None
        assert settings.bot_token.get_secret_value() == BOT_TOKEN


@pytest.mark.parametrize("variable", ["bot_token", "webhook_secret", "dashboard_token"])
def test_blank_secret_means_unset(variable: str) -> None:
    assert getattr(settings_from(**{variable: "  \n"}), variable) is None


def test_secrets_are_stripped() -> None:
    settings = settings_from(webhook_secret=f" {WEBHOOK_SECRET}\n", dashboard_token=f"{DASHBOARD_TOKEN}\n")
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == WEBHOOK_SECRET
    assert settings.dashboard_token is not None
    assert settings.dashboard_token.get_secret_value() == DASHBOARD_TOKEN


# Placeholder secrets


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        pytest.param("webhook_secret", "changethis", id="webhook-changethis"),
        pytest.param("webhook_secret", "CHANGETHIS", id="webhook-upper-case"),
        pytest.param("webhook_secret", "secret", id="webhook-secret"),
        pytest.param("dashboard_token", "changeme", id="dashboard-changeme"),
        pytest.param("dashboard_token", " change-me ", id="dashboard-padded"),
        pytest.param("dashboard_token", "password", id="dashboard-password"),
    ],
)
@pytest.mark.parametrize("environment", ["development", "production"])
def test_placeholder_secrets_refused(variable: str, value: str, environment: str) -> None:
    message = error_of(
        environment=environment,
        bot_token=BOT_TOKEN,
        database_url="postgres://u@h/mluv",
        redis_url="redis://h",
        **{variable: value},
    )
    assert f"{variable.upper()}: is a placeholder value" in message


def test_placeholder_bot_token_refused() -> None:
    # A placeholder can never look like a token, so the format check is what refuses it.
    assert "BOT_TOKEN" in error_of(bot_token="changethis")


# Production requirements


def test_production_requires_services_in_one_message() -> None:
    message = error_of(environment="production")
    lines = message.splitlines()
    assert lines == [
        "Invalid configuration:",
        "  BOT_TOKEN, DATABASE_URL, REDIS_URL, WEBHOOK_URL, WEBHOOK_SECRET: required in production",
    ]


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        pytest.param(
            {"bot_token": BOT_TOKEN},
            "DATABASE_URL, REDIS_URL, WEBHOOK_URL, WEBHOOK_SECRET",
            id="token-only",
        ),
        pytest.param(PRODUCTION | {"redis_url": None}, "REDIS_URL", id="no-redis"),
        pytest.param(PRODUCTION | {"bot_token": None}, "BOT_TOKEN", id="no-token"),
        # Long polling from two machines: each getUpdates ends the other's with 409 Conflict.
        pytest.param(
            PRODUCTION | {"webhook_url": None, "webhook_secret": None},
            "WEBHOOK_URL, WEBHOOK_SECRET",
            id="polling",
        ),
        pytest.param(
            {
                "bot_token": BOT_TOKEN,
                "database_url": "postgres://u@h/db",
                "redis_url": "redis://h",
                "webhook_url": "https://bot.example.com/webhook",
            },
            "WEBHOOK_SECRET",
            id="webhook-without-secret",
        ),
    ],
)
def test_production_names_exactly_what_is_missing(given: dict[str, Any], missing: str) -> None:
    message = error_of(**{"environment": "production", **given})
    assert f"  {missing}: required in production" in message.splitlines()


def test_complete_production_settings_are_valid() -> None:
    settings = settings_from(
        environment="production",
        bot_token=BOT_TOKEN,
        database_url="postgres://u:p@h/db?sslmode=require",
        redis_url="rediss://:pw@h:6380/0",
        webhook_url="https://bot.example.com/webhook/",
        webhook_secret=WEBHOOK_SECRET,
    )
    assert settings.environment is Environment.PRODUCTION
    assert settings.is_production
    assert settings.json_logs
    assert settings.database_url == "postgresql+asyncpg://u:p@h/db?ssl=require"
    assert settings.webhook_url == "https://bot.example.com/webhook"


def test_development_needs_no_services() -> None:
    settings = settings_from()
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.database_url is None
    assert settings.redis_url is None
    assert not settings.json_logs


@pytest.mark.parametrize(
    ("environment", "log_json", "expected"),
    [
        ("development", None, False),
        ("production-like", None, True),
        ("development", True, True),
        ("test", False, False),
    ],
)
def test_json_logs(environment: str, log_json: bool | None, expected: bool) -> None:
    if environment == "production-like":
        overrides: dict[str, Any] = PRODUCTION
    else:
        overrides = {"environment": environment}
    assert settings_from(log_json=log_json, **overrides).json_logs is expected


# WEBHOOK_SECRET


@pytest.mark.parametrize(
    "secret",
    ["abc", "A-Z_a-z_0-9", WEBHOOK_SECRET, "x" * 256],
    ids=["short", "all-classes", "typical", "256-chars"],
)
def test_webhook_secret_charset_accepted(secret: str) -> None:
    settings = settings_from(webhook_secret=secret)
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == secret


@pytest.mark.parametrize(
    "secret",
    ["with space", "slash/inside", "plus+sign", "čeština", "x" * 257, "dot.ted"],
    ids=["space", "slash", "plus", "non-ascii", "257-chars", "dot"],
)
def test_webhook_secret_charset_refused(secret: str) -> None:
    message = error_of(webhook_secret=secret)
    assert "WEBHOOK_SECRET: 1-256 characters of A-Z, a-z, 0-9, _ and - only" in message
    assert secret not in message


# Errors name the variable


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WEB_PORT", "abc"),
        ("WEB_PORT", "0"),
        ("WEB_PORT", "70000"),
        ("LOG_LEVEL", "verbose"),
        ("WORKER_MAX_JOBS", "0"),
        ("FAST_JOB_TIMEOUT", "60"),
        ("RATE_LIMIT_GLOBAL_PER_SECOND", "0"),
        ("RETENTION_MESSAGES_DAYS", "0"),
        ("TELEGRAM_API_BASE", "ftp://files.example.com"),
        ("WEBHOOK_URL", "bot.example.com/hook"),
        ("EXTRA_JOB_MODULES", "workers.extra, 1bad.module"),
        ("ENVIRONMENT", "staging"),
        ("LOG_JSON", "maybe"),
    ],
)
def test_load_settings_error_names_the_variable(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    lines = str(caught.value).splitlines()
    assert lines[0] == "Invalid configuration:"
    assert len(lines) == 2
    assert lines[1].startswith(f"  {variable}: ")


def test_settings_error_lists_every_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_PORT", "abc")
    monkeypatch.setenv("LOG_LEVEL", "loud")
    monkeypatch.setenv("REDIS_URL", "http://h")
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    variables = sorted(line.split(":")[0].strip() for line in str(caught.value).splitlines()[1:])
    assert variables == ["LOG_LEVEL", "REDIS_URL", "WEB_PORT"]


def test_settings_error_is_a_value_error_without_pydantic_chain() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, web_port=0)
    assert isinstance(caught.value, ValueError)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.parametrize(
    ("given", "expected"), [("debug", "DEBUG"), (" warning ", "WARNING"), ("INFO", "INFO")]
)
def test_log_level_normalised(given: str, expected: str) -> None:
    assert settings_from(log_level=given).log_level == expected


def test_extra_job_modules_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTRA_JOB_MODULES", "workers.extra, acme.jobs.reports ,")
    assert settings_from().extra_job_modules == ["workers.extra", "acme.jobs.reports"]


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_PORT", "9001")
    monkeypatch.setenv("environment", "test")  # case-insensitive
    settings = settings_from()
    assert settings.web_port == 9001
    assert settings.environment is Environment.TEST


def test_env_file_is_read_unless_disabled(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("WEB_PORT=9100\nADMIN_IDS=4, 5\n", encoding="utf-8")
    from_file = load_settings(_env_file=env_file)
    assert (from_file.web_port, from_file.admin_ids) == (9100, [4, 5])
    monkeypatch.chdir(tmp_path)
    ignored = load_settings(_env_file=None)
    assert (ignored.web_port, ignored.admin_ids) == (8080, [])


@pytest.mark.parametrize("seconds", [1, 5, 30, 60, 300, 900, 3600])
def test_health_check_interval_tiling_a_minute_or_hour_accepted(seconds: int) -> None:
    assert settings_from(health_check_cron_seconds=seconds).health_check_cron_seconds == seconds


@pytest.mark.parametrize("seconds", [7, 45, 90, 1000, 0, 7200])
def test_health_check_interval_that_every_refuses_is_a_settings_error(seconds: int) -> None:
    # workers/maintenance.py passes it to every(): refuse here, naming the variable, not at import there.
    message = error_of(health_check_cron_seconds=seconds)
    assert "HEALTH_CHECK_CRON_SECONDS: " in message


# Secrets never printed


def secret_settings() -> Settings:
    return settings_from(
        bot_token=BOT_TOKEN,
        webhook_url="https://bot.example.com/webhook",
        webhook_secret=WEBHOOK_SECRET,
        dashboard_token=DASHBOARD_TOKEN,
        database_url=f"postgresql://u:{DSN_PASSWORD}@h/db",
        redis_url=f"redis://:{REDIS_PASSWORD}@cache:6379/0",
        openai_api_key="sk-test-openai-key",
        sentry_dsn="https://sentrykey123@o1.ingest.sentry.io/42",
    )


@pytest.mark.parametrize("render", [repr, str], ids=["repr", "str"])
def test_settings_rendering_hides_secrets(render: Any) -> None:
    settings = secret_settings()
    text = render(settings)
    for secret in (
        BOT_TOKEN,
        BOT_TOKEN.split(":")[1],
        WEBHOOK_SECRET,
        DASHBOARD_TOKEN,
        DSN_PASSWORD,
        REDIS_PASSWORD,
        "sk-test-openai-key",
        "sentrykey123",
    ):
        assert secret not in text
    # Still useful: the masked URLs and non-secret values are shown.
    assert "postgresql+asyncpg://u:***@h/db" in text
    assert "redis://:***@cache:6379/0" in text
    assert "https://bot.example.com/webhook" in text


def test_secret_values_lists_every_secret() -> None:
    assert sorted(secret_settings().secret_values()) == sorted(
        [
            BOT_TOKEN,
            WEBHOOK_SECRET,
            DASHBOARD_TOKEN,
            "https://sentrykey123@o1.ingest.sentry.io/42",
            "sk-test-openai-key",
            DSN_PASSWORD,
            REDIS_PASSWORD,
        ]
    )


def test_secret_values_skips_unset_and_too_short_values() -> None:
    assert settings_from().secret_values() == []
    settings = settings_from(
        database_url="postgres://u:pw@h/db", redis_url="redis://h:6379", webhook_secret="abc"
    )
    assert settings.secret_values() == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:hunter22@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:hunter22@h:5433/db?ssl=require", "postgresql://u:***@h:5433/db?ssl=require"),
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        ("redis://h:6379/0", "redis://h:6379/0"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_url(url: str | None, expected: str | None) -> None:
    assert mask_url(url) == expected


@pytest.mark.parametrize(
    ("environment", "in_process"),
    [
        ({}, True),
        ({"WORKERS_IN_PROCESS": "false"}, False),
        ({"WORKER_EMBEDDED": "false"}, False),  # the old name, still read (fly.toml files in the wild)
        ({"WORKER_EMBEDDED": "true"}, True),
    ],
)
def test_workers_in_process_reads_its_old_name_too(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], in_process: bool
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert load_settings(_env_file=None).workers_in_process is in_process


# The LLM reviewer (LLM_*)

LLM_KEY = "sk-llm-key-0123456789"


def test_llm_defaults_reach_openai_with_budgets() -> None:
    settings = settings_from()
    assert settings.llm_api_key is None  # the offline reviewer only
    assert (settings.llm_base_url, settings.llm_model) == ("https://api.openai.com/v1", "gpt-4o-mini")
    assert settings.llm_timeout == 15
    assert (settings.llm_daily_reviews_per_learner, settings.llm_daily_reviews) == (30, 2000)


@pytest.mark.parametrize(
    ("environment", "key"),
    [
        ({"LLM_API_KEY": LLM_KEY}, LLM_KEY),
        ({"OPENAI_API_KEY": LLM_KEY}, LLM_KEY),  # the old name, still read
        ({"LLM_API_KEY": LLM_KEY, "OPENAI_API_KEY": "sk-old-one-000000"}, LLM_KEY),  # the new name wins
        ({"LLM_API_KEY": f"  {LLM_KEY}\n"}, LLM_KEY),
        ({"LLM_API_KEY": ""}, None),
    ],
)
def test_llm_api_key_and_its_old_name(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], key: str | None
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # not a field name: the autouse fixture keeps it
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    secret = load_settings(_env_file=None).llm_api_key
    assert (secret.get_secret_value() if secret else None) == key


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://api.openai.com/v1/", "https://api.openai.com/v1"),
        ("  https://openrouter.ai/api/v1 ", "https://openrouter.ai/api/v1"),
        ("http://localhost:11434/v1", "http://localhost:11434/v1"),
        ("http://llm.internal:8000/v1", "http://llm.internal:8000/v1"),
    ],
)
def test_llm_base_url_is_normalised(given: str, expected: str) -> None:
    assert settings_from(llm_base_url=given).llm_base_url == expected


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("llm_base_url", "ftp://llm.example.com/v1", "LLM_BASE_URL: must be an http:// or https:// URL"),
        ("llm_base_url", "api.openai.com/v1", "LLM_BASE_URL: must be an http:// or https:// URL"),
        ("llm_base_url", "https://llm.example.com/v1?key=1", "LLM_BASE_URL: must have no query"),
        ("llm_model", "   ", "LLM_MODEL"),
        ("llm_timeout", "0", "LLM_TIMEOUT"),
        ("llm_timeout", "21", "LLM_TIMEOUT"),  # the review job's own timeout is 25 s
        ("llm_daily_reviews_per_learner", "-1", "LLM_DAILY_REVIEWS_PER_LEARNER"),
        ("llm_daily_reviews", "many", "LLM_DAILY_REVIEWS"),
    ],
)
def test_bad_llm_settings_are_errors_naming_the_variable(variable: str, value: str, fragment: str) -> None:
    assert fragment in error_of(**{variable: value})


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.openai.com/v1", True),
        ("http://127.0.0.1:8000/v1", True),
        ("http://localhost:11434/v1", True),
        ("http://[::1]:8000/v1", True),
        ("http://llm.internal:8000/v1", False),
        ("http://10.0.0.5/v1", False),
    ],
)
def test_llm_base_url_needs_https_in_production_unless_loopback(url: str, allowed: bool) -> None:
    production = PRODUCTION | {"llm_base_url": url}
    if allowed:
        assert settings_from(**production).llm_base_url == url
    else:
        assert "LLM_BASE_URL: must be https:// in production" in error_of(**production)
        assert settings_from(**production | {"environment": "development"}).llm_base_url == url


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.telegram.org", True),
        ("https://bot-api.internal:8443", True),
        ("http://127.0.0.1:8081", True),
        ("http://localhost:8081", True),
        ("http://bot-api.internal:8081", False),
        ("http://api.telegram.org", False),
    ],
)
def test_telegram_api_base_needs_https_in_production_unless_loopback(url: str, allowed: bool) -> None:
    # The bot token is part of every Bot API URL.
    production = PRODUCTION | {"telegram_api_base": url}
    if allowed:
        assert settings_from(**production).telegram_api_base == url
    else:
        message = error_of(**production)
        assert "TELEGRAM_API_BASE: must be https:// in production" in message
        assert BOT_TOKEN not in message
        assert settings_from(**production | {"environment": "development"}).telegram_api_base == url


@pytest.mark.parametrize("variable", ["dashboard_token", "metrics_token"])
@pytest.mark.parametrize("environment", ["development", "test", "production"])
@pytest.mark.parametrize(
    ("length", "allowed"), [(8, False), (MIN_TOKEN_LENGTH - 1, False), (MIN_TOKEN_LENGTH, True), (64, True)]
)
def test_dashboard_and_metrics_tokens_have_a_minimum_length(
    variable: str, environment: str, length: int, allowed: bool
) -> None:
    token = ("k7Q-" * 20)[:length]
    given = PRODUCTION | {"environment": environment, variable: token}
    if allowed:
        assert getattr(settings_from(**given), variable).get_secret_value() == token
    else:
        message = error_of(**given)
        assert f"{variable.upper()}: must be at least {MIN_TOKEN_LENGTH} characters" in message
        assert token not in message


@pytest.mark.parametrize("old_name", ["OPENAI_API_KEY", "WORKER_EMBEDDED"])
def test_old_names_are_variables_too(old_name: str) -> None:
    # The fixtures clear these from a developer's environment: an old name still configures the process.
    assert old_name in variable_names()


# PAID_BROADCAST_RATE_PER_SECOND


@pytest.mark.parametrize(
    ("paid", "free", "fragment"),
    [
        (0, 25, None),  # the default: paid broadcasts off
        (500, 25, None),
        (975, 25, None),
        (1000, 0.5, "over 1000/s"),  # Telegram allows at most 1,000/s: the free sends count too
        (976, 25, "over 1000/s"),
        (1001, 25, "PAID_BROADCAST_RATE_PER_SECOND"),
        (-1, 25, "PAID_BROADCAST_RATE_PER_SECOND"),
    ],
    ids=["off", "500", "975", "1000-and-free", "976", "over-1000", "negative"],
)
def test_the_paid_broadcast_rate_is_validated(paid: float, free: float, fragment: str | None) -> None:
    overrides = {"paid_broadcast_rate_per_second": paid, "rate_limit_global_per_second": free}
    if fragment is None:
        assert settings_from(**overrides).paid_broadcast_rate_per_second == paid
    else:
        assert fragment in error_of(**overrides)
