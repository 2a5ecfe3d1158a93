"""Monitoring checks: the alert rules and the scrape config pass promtool, the rules' unit tests fire and stay quiet
as written, every metric and label the alerts and the dashboard read is one the code defines, the dashboard has a
query in every panel, and every alert has its runbook section. Each check is also shown to fail on a broken input.

promtool comes from Debian's ``prometheus`` package (.ci/run installs it); without it these tests skip on a
developer machine and fail in CI (``CI=true``).
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from loanbridge.common import service as services
from loanbridge.common.events.catalog import EVENT_TYPES

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "monitoring" / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERTS_TEST = PROMETHEUS_DIR / "alerts_test.yml"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
GRAFANA_DIR = ROOT / "deploy" / "monitoring" / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "loanbridge.json"
RUNBOOK = ROOT / "docs" / "runbook.md"

REQUIRED = os.environ.get("CI", "").lower() in ("1", "true", "yes")
METRIC_KINDS = {"Counter", "Gauge", "Histogram", "Summary"}
# Series Prometheus makes itself for every target, and the labels prometheus.yml adds to each target's series.
PROMETHEUS_SERIES = {"up": frozenset({"job", "instance", "process"})}
TARGET_LABELS = frozenset({"job", "instance", "process"})
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless"}
PROMQL_WORDS |= {"offset", "inf", "nan", "atan2"}


# --- promtool ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def promtool() -> str:
    """promtool's path; a skip on a developer machine without it, a failure in CI."""
    path = shutil.which("promtool")
    if path:
        return path
    if REQUIRED:
        pytest.fail("promtool is required in CI (Debian package prometheus, installed by .ci/run)")
    pytest.skip("promtool not installed (apt-get install prometheus)")


def run_promtool(promtool: str, *args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_alert_rules_pass_promtool_check(promtool: str) -> None:
    result = run_promtool(promtool, "check", "rules", str(ALERTS))

    assert result.returncode == 0, result.stdout + result.stderr


def test_scrape_config_and_the_rules_it_loads_pass_promtool_check(promtool: str) -> None:
    result = run_promtool(promtool, "check", "config", str(PROMETHEUS_CONFIG))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout + result.stderr


def test_alert_unit_tests_pass(promtool: str) -> None:
    result = run_promtool(promtool, "test", "rules", ALERTS_TEST.name)

    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rejects_a_rules_file_with_a_broken_expression(promtool: str, tmp_path: Path) -> None:
    broken = load_yaml(ALERTS)
    broken["groups"][0]["rules"][0]["expr"] = "sum by (service (rate(loanbridge_http_requests_total[5m]))"
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(broken))

    result = run_promtool(promtool, "check", "rules", "alerts.yml", cwd=tmp_path)

    assert result.returncode != 0
    assert "could not parse expression" in result.stdout + result.stderr


def test_promtool_rejects_a_rule_without_an_expression(promtool: str, tmp_path: Path) -> None:
    broken = load_yaml(ALERTS)
    del broken["groups"][0]["rules"][0]["expr"]
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(broken))

    result = run_promtool(promtool, "check", "rules", "alerts.yml", cwd=tmp_path)

    assert result.returncode != 0


def test_promtool_rejects_a_config_with_an_unknown_field_or_a_missing_rules_file(promtool: str, tmp_path: Path) -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    misspelt = {**config, "scrape_config": config["scrape_configs"]}
    del misspelt["scrape_configs"]
    (tmp_path / "misspelt.yml").write_text(yaml.safe_dump(misspelt))
    (tmp_path / "no-rules.yml").write_text(yaml.safe_dump(config))  # alerts.yml is not beside it here

    assert run_promtool(promtool, "check", "config", "misspelt.yml", cwd=tmp_path).returncode != 0
    assert run_promtool(promtool, "check", "config", "no-rules.yml", cwd=tmp_path).returncode != 0


def test_every_quiet_case_fails_when_every_alert_always_fires(promtool: str, tmp_path: Path) -> None:
    failed = unit_tests_failing_with(promtool, tmp_path, expr="vector(1)")

    assert quiet_cases() <= failed, quiet_cases() - failed


def test_every_firing_case_fails_when_no_alert_ever_fires(promtool: str, tmp_path: Path) -> None:
    failed = unit_tests_failing_with(promtool, tmp_path, expr="vector(1) == 0")

    assert firing_cases() <= failed, firing_cases() - failed


def unit_tests_failing_with(promtool: str, tmp_path: Path, *, expr: str) -> set[str]:
    """Names of the unit tests in alerts_test.yml that fail when every alert's expression is ``expr``."""
    rules = load_yaml(ALERTS)
    for rule in alert_rules(rules):
        rule["expr"] = expr
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
    shutil.copy(ALERTS_TEST, tmp_path / ALERTS_TEST.name)

    result = run_promtool(promtool, "test", "rules", ALERTS_TEST.name, cwd=tmp_path)

    assert result.returncode != 0
    return set(re.findall(r"^\s*name: (.+),$", result.stdout + result.stderr, re.MULTILINE))


def test_every_alert_has_unit_tests_that_fire_it_and_keep_it_quiet() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in load_yaml(ALERTS_TEST)["tests"]:
        for check in case["alert_rule_test"]:
            (fires if check["exp_alerts"] else quiet).add(check["alertname"])

    assert fires == alert_names() and quiet == alert_names(), (alert_names() - fires, alert_names() - quiet)


def quiet_cases() -> set[str]:
    return {case["name"] for case in load_yaml(ALERTS_TEST)["tests"] if not any(expected_alerts(case))}


def firing_cases() -> set[str]:
    return {case["name"] for case in load_yaml(ALERTS_TEST)["tests"] if any(expected_alerts(case))}


def expected_alerts(case: dict[str, Any]) -> Iterator[list[Any]]:
    return (check["exp_alerts"] for check in case["alert_rule_test"])


# --- metric and label drift ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str
    labels: frozenset[str]

    def series(self) -> set[str]:
        """The series names this metric exports (prometheus_client's conventions; *_created is disabled)."""
        if self.kind == "Counter":
            return {self.name.removesuffix("_total") + "_total"}
        if self.kind == "Histogram":
            return {self.name + suffix for suffix in ("_bucket", "_sum", "_count")}
        if self.kind == "Summary":
            return {self.name, self.name + "_sum", self.name + "_count"}
        return {self.name}


@functools.cache
def defined_metrics(roots: tuple[Path, ...] = (ROOT / "libs", ROOT / "services")) -> dict[str, frozenset[str]]:
    """Every series name the code can export, with the label names it may carry."""
    exported = {name: labels for name, labels in PROMETHEUS_SERIES.items()}
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if "tests" in path.relative_to(root).parts:
                continue
            for metric in metrics_defined_in(path.read_text(encoding="utf-8")):
                extra = {"le"} if metric.kind == "Histogram" else set()
                for series in metric.series():
                    exported[series] = metric.labels | TARGET_LABELS | (extra if series.endswith("_bucket") else set())
    return exported


def metrics_defined_in(source: str) -> Iterator[Metric]:
    """prometheus_client metrics constructed in a module: ``Counter("name", "help", ["label", ...])``."""
    tree = ast.parse(source)
    imported = {
        alias.asname or alias.name: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "prometheus_client"
        for alias in node.names
        if alias.name in METRIC_KINDS
    }
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
            continue
        kind = _metric_kind(node.func, imported)
        if kind is None or not isinstance(node.args[0].value, str):
            continue
        yield Metric(node.args[0].value, kind, frozenset(_label_names(node)))


def _metric_kind(func: ast.expr, imported: dict[str, str]) -> str | None:
    """``Counter`` imported from prometheus_client, or ``prometheus_client.Counter``; None for anything else."""
    if isinstance(func, ast.Name):
        return imported.get(func.id)
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "prometheus_client":
        return func.attr if func.attr in METRIC_KINDS else None
    return None


def _label_names(call: ast.Call) -> list[str]:
    given = (
        call.args[2] if len(call.args) > 2 else next((k.value for k in call.keywords if k.arg == "labelnames"), None)
    )
    if not isinstance(given, ast.List | ast.Tuple):
        return []
    return [element.value for element in given.elts if isinstance(element, ast.Constant)]


@functools.cache
def service_names() -> frozenset[str]:
    return frozenset(services.discover())


SELECTOR = re.compile(r'([a-zA-Z_:][\w:]*)\s*\{((?:[^}"]|"(?:[^"\\]|\\.)*")*)\}')
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression (or a Grafana query) reads: identifiers that are neither functions,
    keywords, label names, strings, durations nor Grafana variables."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\$\{?\w+\}?", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w.:])([a-zA-Z_:][\w:]*)(\s*\()?", text):
        if match.group(2) is None and match.group(1).lower() not in PROMQL_WORDS:
            names.add(match.group(1))
    return names


def drift(expr: str, defined: dict[str, frozenset[str]]) -> list[str]:
    """What an expression reads that the code does not define: series, label names, event types, services."""
    problems = [f"unknown metric {name}" for name in sorted(metric_names(expr) - defined.keys())]
    known_services = service_names()
    for name, body in SELECTOR.findall(expr):
        for label, operator, value in MATCHER.findall(body):
            if name in defined and label not in defined[name]:
                problems.append(f"{name} has no label {label}")
            if operator != "=":
                continue
            if label == "type" and value not in EVENT_TYPES:
                problems.append(f"{name}: unknown event type {value}")
            if label == "service" and value not in known_services:
                problems.append(f"{name}: unknown service {value}")
    return problems


def test_the_code_scan_finds_the_metrics_of_the_common_library_and_of_services() -> None:
    defined = defined_metrics()

    assert defined["loanbridge_http_requests_total"] >= {"service", "endpoint", "method", "status"}
    assert "le" in defined["loanbridge_http_request_duration_seconds_bucket"]
    assert "loanbridge_http_request_duration_seconds_count" in defined
    assert defined["loanbridge_events_emitted_total"] >= {"service", "type"}
    assert defined["loanbridge_risk_evaluations_total"] >= {"product", "decision"}
    assert "loanbridge_notify_messages_total" in defined
    assert "loanbridge_calendar_year_missing" in defined


def test_every_metric_and_label_the_alerts_read_is_defined_by_the_code() -> None:
    defined = defined_metrics()

    problems = {rule["alert"]: drift(rule["expr"], defined) for rule in alert_rules(load_yaml(ALERTS))}

    assert not {alert: found for alert, found in problems.items() if found}


def test_every_metric_and_label_the_dashboard_reads_is_defined_by_the_code() -> None:
    defined = defined_metrics()

    problems = {f"{panel['title']} {target['refId']}": drift(target["expr"], defined) for panel, target in queries()}

    assert not {query: found for query, found in problems.items() if found}


def test_the_drift_check_catches_unknown_metrics_labels_event_types_and_services() -> None:
    defined = defined_metrics()

    assert drift("rate(loanbridge_leads_created_total[5m]) > 0", defined) == [
        "unknown metric loanbridge_leads_created_total"
    ]
    assert drift('loanbridge_outbox_backlog{queue="intake.events"} > 0', defined) == [
        "loanbridge_outbox_backlog has no label queue"
    ]
    assert drift('increase(loanbridge_events_emitted_total{type="intake.leads.created"}[1h]) < 1', defined) == [
        "loanbridge_events_emitted_total: unknown event type intake.leads.created"
    ]
    assert drift('loanbridge_outbox_backlog{service="intakes"} > 0', defined) == [
        "loanbridge_outbox_backlog: unknown service intakes"
    ]


def test_a_rules_file_with_an_unknown_metric_fails_the_drift_check() -> None:
    rules = load_yaml(ALERTS)
    rules["groups"][0]["rules"].append({"alert": "Typo", "expr": "loanbridge_outbox_backlogs > 0"})
    defined = defined_metrics()

    problems = [found for rule in alert_rules(rules) for found in drift(rule["expr"], defined)]

    assert problems == ["unknown metric loanbridge_outbox_backlogs"]


def test_metric_names_reads_series_and_leaves_out_functions_keywords_labels_durations_and_variables() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (service, le) "
        '(rate(a_seconds_bucket{endpoint!~".*/x\\\\.y"}[$__rate_interval])))'
        " > 1 and on () hour(vector(time() + 28800)) >= 10 unless b_total offset 1h"
        ' or (sum(increase(c_total{type="t"}[1h])) or vector(0)) / ignoring (x) d{service=~"$service"}'
    )

    assert metric_names(expr) == {"a_seconds_bucket", "b_total", "c_total", "d"}


# --- dashboard ----------------------------------------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def queries() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in panels(dashboard()):
        for target in panel.get("targets", []):
            yield panel, target


def panels_without_query(board: dict[str, Any]) -> list[str]:
    """Titles of the panels (rows aside) with no target, or a target without an expression."""
    return [
        panel["title"]
        for panel in panels(board)
        if panel["type"] != "row" and not all(t.get("expr", "").strip() for t in panel.get("targets") or [{}])
    ]


def test_dashboard_parses_and_every_panel_but_a_row_has_a_query() -> None:
    board = dashboard()

    assert board["uid"] == "loanbridge"
    assert sum(1 for panel in panels(board) if panel["type"] != "row") >= 20
    assert panels_without_query(board) == []


def test_dashboard_queries_the_prometheus_datasource_variable() -> None:
    board = dashboard()
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}

    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert {panel["datasource"]["uid"] for panel in panels(board) if panel["type"] != "row"} == {"${datasource}"}
    assert {target["datasource"]["uid"] for _, target in queries()} == {"${datasource}"}


def test_dashboard_shows_the_red_metrics_and_the_business_counters() -> None:
    exprs = " ".join(target["expr"] for _, target in queries())

    for needed in (
        "loanbridge_http_requests_total",
        "loanbridge_http_request_duration_seconds_bucket",
        'status=~"5.."',
        "intake.lead.created",
        "intake.application.submitted",
        "workflow.lender.submitted",
        "loanbridge_risk_evaluations_total",
        "workflow.stage.changed",
        "workflow.task.overdue",
        "loanbridge_notify_messages_total",
        "loanbridge_outbox_oldest_pending_age_seconds",
        'role="dead_letter"',
    ):
        assert needed in exprs, needed


def test_the_dashboard_check_fails_on_panels_without_a_query() -> None:
    broken = dashboard()
    broken["panels"][1]["targets"] = [{"refId": "A", "expr": " "}]
    del broken["panels"][2]["targets"]

    assert panels_without_query(broken) == [broken["panels"][1]["title"], broken["panels"][2]["title"]]


def test_grafana_provisioning_loads_the_dashboard_from_prometheus() -> None:
    datasources = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    providers = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "loanbridge.yml")["providers"]

    assert [(d["type"], d["url"]) for d in datasources] == [("prometheus", "http://prometheus:9090")]
    assert providers[0]["type"] == "file" and providers[0]["options"]["path"] == "/var/lib/grafana/dashboards"


# --- scrape config ------------------------------------------------------------------------------------------------


def missing_targets(config: dict[str, Any], service_names: Iterable[str]) -> set[str]:
    """The web and worker targets of each service that no scrape job lists, and RabbitMQ's."""
    listed = {
        target
        for job in config["scrape_configs"]
        for group in job.get("static_configs", [])
        for target in group["targets"]
    }
    wanted = {f"{name}-web:8000" for name in service_names} | {f"{name}-worker:9000" for name in service_names}
    return (wanted | {"rabbitmq:15692"}) - listed


def test_prometheus_scrapes_every_services_web_and_worker_and_rabbitmq() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)

    assert missing_targets(config, services.discover()) == set()
    assert config["rule_files"] == ["alerts.yml"]


def test_the_scrape_check_fails_when_a_target_is_missing() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    for job in config["scrape_configs"]:
        for group in job["static_configs"]:
            group["targets"] = [t for t in group["targets"] if t != "risk-worker:9000"]

    assert missing_targets(config, services.discover()) == {"risk-worker:9000"}


# --- runbook ------------------------------------------------------------------------------------------------------


def runbook_sections(text: str) -> set[str]:
    return set(re.findall(r"^## (\S+)\s*$", text, re.MULTILINE))


def runbook_problems(rules: dict[str, Any], text: str) -> list[str]:
    """Alerts without a runbook section or without a runbook_url to it, and sections of alerts that are gone."""
    sections = runbook_sections(text)
    problems = []
    for rule in alert_rules(rules):
        name = rule["alert"]
        if name not in sections:
            problems.append(f"{name}: no section in docs/runbook.md")
        if rule.get("annotations", {}).get("runbook_url") != f"docs/runbook.md#{name.lower()}":
            problems.append(f"{name}: runbook_url does not point to its section")
    problems += [
        f"{name}: a section for no alert" for name in sorted(sections - {r["alert"] for r in alert_rules(rules)})
    ]
    return problems


def test_every_alert_has_a_runbook_section_and_a_runbook_url_to_it() -> None:
    assert runbook_problems(load_yaml(ALERTS), RUNBOOK.read_text(encoding="utf-8")) == []


def test_the_runbook_check_fails_for_an_alert_without_a_section() -> None:
    rules = load_yaml(ALERTS)
    rules["groups"][0]["rules"].append(
        {"alert": "LoanBridgeNew", "expr": "up == 0", "annotations": {"runbook_url": "docs/runbook.md#elsewhere"}}
    )

    assert runbook_problems(rules, RUNBOOK.read_text(encoding="utf-8")) == [
        "LoanBridgeNew: no section in docs/runbook.md",
        "LoanBridgeNew: runbook_url does not point to its section",
    ]


def test_the_runbook_names_only_loanbridge_commands_the_cli_has() -> None:
    from loanbridge.common import cli

    cli._add_service_commands()
    named = set(re.findall(r"`loanbridge ([a-z][a-z-]*)", RUNBOOK.read_text(encoding="utf-8")))

    assert named >= {"replay-dlq", "migrate", "status"}
    assert named - set(cli.main.commands) == set()


# --- helpers ------------------------------------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alert_rules(rules: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                yield rule


def alert_names() -> set[str]:
    return {rule["alert"] for rule in alert_rules(load_yaml(ALERTS))}
