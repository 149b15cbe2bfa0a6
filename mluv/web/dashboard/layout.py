"""The HTML around the sections: a page's layout (navigation, banners, the CSRF token) and the login page."""

from __future__ import annotations

from mluv.web.dashboard.html import e

NAV = (
    ("overview", "/dashboard", "Overview"),
    ("jobs", "/dashboard/jobs", "Jobs"),
    ("failures", "/dashboard/failures", "Dead letters"),
    ("cron", "/dashboard/cron", "Cron"),
    ("stats", "/dashboard/stats", "Metrics"),
    ("broadcasts", "/dashboard/broadcasts", "Broadcasts"),
)


def layout(
    *,
    page: str,
    title: str,
    sections: list[tuple[str, str]],
    csrf: str,
    open_mode: bool,
    notice: str | None,
    static_version: str,
    logout: bool,
) -> str:
    current = ' aria-current="page"'
    nav = "".join(
        f'<a href="{href}"{current if key == page else ""}>{e(label)}</a>' for key, href, label in NAV
    )
    banner = (
        '<div class="banner warn" role="alert"><strong>Open dashboard.</strong> No DASHBOARD_TOKEN is set, '
        "so anyone on this machine can use it. This only works in development on loopback.</div>"
        if open_mode
        else ""
    )
    notice_html = f'<div class="banner info" role="status">{e(notice)}</div>' if notice else ""
    logout_form = (
        f'<form method="post" action="/dashboard/logout" class="logout"><input type="hidden" name="csrf" '
        f'value="{e(csrf)}"><button class="btn ghost small" type="submit">Log out</button></form>'
        if logout
        else ""
    )
    body = "".join(
        f'<section class="card" id="{e(name)}" data-fragment="{e(name)}">{content}</section>'
        for name, content in sections
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{e(csrf)}">
<meta name="robots" content="noindex">
<title>{e(title)} · Mluv jobs</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/static/dashboard.css?v={e(static_version)}">
<script src="/dashboard/static/dashboard.js?v={e(static_version)}" defer></script>
</head>
<body data-page="{e(page)}">
<header class="top">
<a class="brand" href="/dashboard">Mluv<span>jobs</span></a>
<nav class="nav" aria-label="Sections">{nav}</nav>
<div class="live" id="live" title="Updates every few seconds"><i></i><span>live</span></div>
{logout_form}
</header>
{banner}{notice_html}
<main>
<h1 class="page-title">{e(title)}</h1>
{body}
</main>
<div id="toast" class="toast" role="status" aria-live="polite" hidden></div>
</body>
</html>
"""


def login_page(*, csrf: str, error: str | None, next_path: str, static_version: str) -> str:
    message = f'<p class="form-error" role="alert">{e(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Log in · Mluv jobs</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/static/dashboard.css?v={e(static_version)}">
</head>
<body class="login">
<main>
<form class="card login-card" method="post" action="/dashboard/login">
<h1>Mluv<span>jobs</span></h1>
<p class="muted">Operations dashboard. Log in with the dashboard token or password.</p>
{message}
<input type="hidden" name="csrf" value="{e(csrf)}">
<input type="hidden" name="next" value="{e(next_path)}">
<label for="token">Token or password</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button class="btn primary" type="submit">Log in</button>
</form>
</main>
</body>
</html>
"""
