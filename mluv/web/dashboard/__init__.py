"""The operations dashboard under /dashboard: queues, jobs, results, dead letters, cron, metrics, workers,
broadcasts, with Abort / Retry / Discard / Cancel. Server-rendered HTML, a small script re-fetches the
sections every few seconds; no external resources (CSP: 'self' only). Access rules: mluv.web.auth.

routes (URLs and their access checks) · guards (sessions, CSRF, security headers) · login · sections
(sections by name, pages, GET handlers) · pages/ (each area's sections) · loader (per-request data) ·
present (plain data for the pages) · templating, templates/ (Jinja2, autoescaped) · actions (POSTs) ·
snapshot (JSON).
"""
