"""What the dashboard and /metrics read besides arq's layout (mluv.jobs.arq_state) and the homes of
broadcasts and the delivery ledger (mluv.telegram.broadcasts, mluv.telegram.ledger): dead letters and cron
runs from PostgreSQL; the health check's report and the rate limiter's counters from Redis. Plain data, no
HTML: the dashboard's pages and /metrics render it.
"""
