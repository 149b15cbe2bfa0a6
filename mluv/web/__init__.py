"""The web process: health endpoints, the jobs dashboard, /metrics and Sentry setup (webhook: mluv.bot)."""
