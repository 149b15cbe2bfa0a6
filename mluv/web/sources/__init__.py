"""What the dashboard and /metrics read besides arq's layout (mluv.jobs.arq_state): dead letters, cron runs,
broadcasts and deliveries from PostgreSQL; the health check's report and the rate limiter's counters from
Redis. Plain data, no HTML: the dashboard's pages and /metrics render it.
"""
