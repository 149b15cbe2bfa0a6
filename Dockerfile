# syntax=docker/dockerfile:1
# One image runs every process: `mluv serve` (web + bot), `mluv worker`, `mluv worker --queue long`
# and `mluv migrate` (fly's release command).
# The install steps are the ones `python3 -m mluv.bootstrap` runs: uv, then `uv sync --frozen` from uv.lock.

FROM python:3.11-slim-bookworm AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first (cached while only the code changes), without dev tools or embedded servers.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project
COPY mluv ./mluv
COPY workers ./workers
COPY migrations ./migrations
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim-bookworm AS runtime
RUN groupadd --system mluv && useradd --system --gid mluv --home-dir /app --no-create-home mluv
COPY --from=build --chown=mluv:mluv /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    WEB_HOST=0.0.0.0 \
    WEB_PORT=8080
WORKDIR /app
USER mluv
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
CMD ["mluv", "serve", "--no-migrate"]
