"""The Grafana dashboard and the Prometheus alert rules against the code: every metric
they name is one the roles define (found in the source, confirmed in the registry once
its module is imported), every label they select or group by is one of its labels, every
expression parses (promtool), every alert fires as alerts.test.yml says (promtool), and
every runbook link lands on a heading of docs/operations.md."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

from tests.deploy_tools import ROOT, deploy_tool

PACKAGES = ("app", "outbox", "workers")
METRIC_TYPES = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram"}
SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
}
ALERTS = ROOT / "deploy/prometheus/alerts.yml"
ALERT_TESTS = ROOT / "deploy/prometheus/alerts.test.yml"
DASHBOARD = ROOT / "deploy/grafana/pixwave.json"
OPERATIONS = ROOT / "docs/operations.md"
# Prometheus renames a scraped `job` label to `exported_job` (honor_labels: false).
RENAMED_BY_PROMETHEUS = {"exported_job": "job"}
# Grafana's own variables, given a value so promtool can parse the expression.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$__interval": "1m"}
SERIES = re.compile(r"\b(pixwave_[a-z0-9_]+)\b(\{[^}]*\})?")
MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*\"")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str
    labels: tuple[str, ...]
    module: str


def _metric_of(call: ast.Call, module: str) -> Metric | None:
    kind = call.func.id if isinstance(call.func, ast.Name) else None
    if kind not in METRIC_TYPES or not call.args:
        return None
    name = call.args[0]
    if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
        return None
    labels: tuple[str, ...] = ()
    if len(call.args) > 2 and isinstance(call.args[2], ast.List):
        labels = tuple(ast.literal_eval(call.args[2]))
    return Metric(name.value, METRIC_TYPES[kind], labels, module)


@cache
def defined_metrics() -> dict[str, Metric]:
    """Every Counter(...), Gauge(...) and Histogram(...) the packages define."""
    found: dict[str, Metric] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            for node in ast.walk(ast.parse(path.read_text())):
                metric = _metric_of(node, module) if isinstance(node, ast.Call) else None
                if metric is not None:
                    found[metric.name] = metric
    return found


@cache
def sample_names() -> dict[str, Metric]:
    """The series names Prometheus scrapes, each to its metric (a counter's name loses
    any `_total` it was given, then every sample gets one)."""
    return {
        metric.name.removesuffix("_total") + suffix: metric
        for metric in defined_metrics().values()
        for suffix in SAMPLE_SUFFIXES[metric.kind]
    }


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def every_expression() -> list[str]:
    return [rule["expr"] for rule in alert_rules()] + dashboard_expressions()


def assert_names_real_series(expression: str) -> None:
    found = SERIES.findall(expression)
    assert found, f"names no PixWave metric: {expression}"
    metrics = []
    for name, matchers in found:
        assert name in sample_names(), f"{name} is not a metric the code defines"
        metric = sample_names()[name]
        metrics.append(metric)
        allowed = set(metric.labels) | ({"le"} if name.endswith("_bucket") else set())
        for label in MATCHER.findall(matchers):
            assert RENAMED_BY_PROMETHEUS.get(label, label) in allowed, f"{name} has no {label}"
    labels = {label for metric in metrics for label in metric.labels} | {"le"}
    for grouping in GROUPING.findall(expression):
        for label in filter(None, (part.strip() for part in grouping.split(","))):
            assert RENAMED_BY_PROMETHEUS.get(label, label) in labels, f"{label}: {expression}"


# -- the metrics catalogue ------------------------------------------------------------


def test_every_metric_found_in_the_source_is_registered_once_imported() -> None:
    for module in {metric.module for metric in defined_metrics().values()}:
        importlib.import_module(module)
    registered = {family.name: family.type for family in REGISTRY.collect()}
    for metric in defined_metrics().values():
        family = metric.name.removesuffix("_total")
        assert registered.get(family) == metric.kind, metric.name
    # Covers each role: api, relay, workers, gateways, payments, scheduler, Redis fallback.
    assert len({m.module for m in defined_metrics().values()}) >= 7


def test_the_name_check_refuses_an_unknown_metric_or_label() -> None:
    with pytest.raises(AssertionError):
        assert_names_real_series("rate(pixwave_outbox_published[5m])")
    with pytest.raises(AssertionError):
        assert_names_real_series('pixwave_worker_queue_depth{queu="x"}')
    with pytest.raises(AssertionError):
        assert_names_real_series("sum by (tenant) (pixwave_worker_in_flight)")
    assert_names_real_series('sum by (le) (pixwave_worker_handler_seconds_bucket{consumer="x"})')


# -- alert rules ----------------------------------------------------------------------


def test_the_rules_file_has_prometheus_rule_groups_shape() -> None:
    document = yaml.safe_load(ALERTS.read_text())
    assert set(document) == {"groups"}
    names = [group["name"] for group in document["groups"]]
    assert len(names) == len(set(names))
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit"}
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
            assert rule["labels"]["severity"] in {"warning", "critical"}
            assert {"summary", "description", "runbook"} <= set(rule["annotations"])


def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        [deploy_tool("promtool"), "check", "rules", str(ALERTS)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_alert_fires_as_its_promtool_tests_say() -> None:
    result = subprocess.run(
        [deploy_tool("promtool"), "test", "rules", str(ALERT_TESTS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tested = {
        case["alertname"]
        for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    required = {
        "PixWaveOutboxLagging",
        "PixWaveOutboxEventParked",
        "PixWaveDeadLetters",
        "PixWaveGatewayCircuitOpened",
        "PixWaveApiErrors",
        "PixWaveCardsSlowToSettle",
        "PixWaveSchedulerJobStale",
    }
    assert required <= tested


@pytest.mark.parametrize("expression", every_expression())
def test_every_expression_names_real_metrics_and_labels(expression: str) -> None:
    assert_names_real_series(expression)


def github_anchors(markdown: Path) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", markdown.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_every_runbook_link_lands_on_a_heading_of_the_runbook() -> None:
    anchors = github_anchors(OPERATIONS)
    for rule in alert_rules():
        page, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert page == "docs/operations.md", rule["alert"]
        assert anchor in anchors, rule["alert"]


# -- the dashboard --------------------------------------------------------------------


def test_the_dashboard_is_grafana_json_with_a_prometheus_source() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "pixwave-overview"
    assert dashboard["title"]
    [source] = dashboard["templating"]["list"]
    assert (source["type"], source["query"]) == ("datasource", "prometheus")
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"
            assert [t["refId"] for t in panel["targets"]]
    shown = " ".join(dashboard_expressions())
    for topic in ("outbox_oldest", "queue_depth", "circuit_opened", 'status=~"5.."', "to_terminal"):
        assert topic in shown


def test_promtool_parses_every_dashboard_expression(tmp_path: Path) -> None:
    """Each expression, Grafana's variables given values, as a recording rule."""
    rules = []
    for index, expression in enumerate(dashboard_expressions()):
        for variable, value in GRAFANA_VARIABLES.items():
            expression = expression.replace(variable, value)
        rules.append({"record": f"pixwave:dashboard_panel_{index}", "expr": expression})
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [deploy_tool("promtool"), "check", "rules", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
