"""The shipped alert rules and Grafana dashboard: valid (promtool where installed) and built on metric names
that /metrics really serves."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests.conftest import REPO_ROOT
from tests.web.conftest import Client
from tests.web.test_prometheus import scrape

pytestmark = pytest.mark.integration

MONITORING = REPO_ROOT / "docs" / "monitoring"
ALERTS = MONITORING / "alerts.yml"
ALERT_TESTS = MONITORING / "alerts.test.yml"
GRAFANA = MONITORING / "grafana-dashboard.json"
promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool (Debian: prometheus) not installed"
)


def used_names(text: str) -> set[str]:
    return set(re.findall(r"\bmluv_[a-z0-9_]+", text))


async def served_names(client: Client) -> set[str]:
    names: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", await scrape(client), re.MULTILINE):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


async def test_alerts_and_dashboard_use_only_served_metrics(client: Client) -> None:
    served = await served_names(client)
    for path in (ALERTS, ALERT_TESTS, GRAFANA):
        unknown = used_names(path.read_text()) - served
        assert not unknown, f"{path.name} uses metrics /metrics does not serve: {sorted(unknown)}"


def test_grafana_dashboard_is_importable_json() -> None:
    dashboard = json.loads(GRAFANA.read_text())
    assert dashboard["uid"] == "mluv-jobs" and dashboard["title"] == "Mluv jobs"
    (variable,) = dashboard["templating"]["list"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]


@promtool
def test_promtool_checks_the_rules() -> None:
    checked = subprocess.run(
        ["promtool", "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@promtool
def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    tested = subprocess.run(
        ["promtool", "test", "rules", ALERT_TESTS.name],
        cwd=MONITORING,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
