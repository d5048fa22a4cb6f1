"""The shipped Prometheus rules refer only to metrics the gateway exports, and every rule is
proven by promtool cases that see it fire and see it stay quiet.

The coverage check is structural (it reads both YAML files), so an alert added without tests
fails here even where promtool is not installed; the mutation check then runs promtool on a
copy of the rules where one alert can never fire, which must break that alert's firing cases.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.ops.metrics import GatewayMetrics
from gateway.ops.node_health import KEYS_WARNING_DAYS

PROMETHEUS = Path(__file__).resolve().parents[2] / "config" / "prometheus"
RULES = PROMETHEUS / "blg-alerts.yml"
RULE_TESTS = PROMETHEUS / "blg-alerts.test.yml"
PROMTOOL = shutil.which("promtool")


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _metrics_used(expr: str) -> set[str]:
    return set(re.findall(r"\bblg_[a-z_]+", expr))


def _cases(alert: str) -> list[tuple[set[str], dict[str, Any]]]:
    """Each promtool case of `alert`, with the metric names its test group feeds in."""
    cases = []
    for group in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        fed = {
            re.split(r"[{\s]", series["series"].strip(), maxsplit=1)[0]
            for series in group["input_series"]
        }
        for case in group.get("alert_rule_test", []):
            if case["alertname"] == alert:
                cases.append((fed, case))
    return cases


def _exported_names() -> set[str]:
    names: set[str] = set()
    for family in GatewayMetrics().registry.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        names.update(family.name + suffix for suffix in suffixes.get(family.type, [""]))
    return names


def test_every_rule_uses_exported_metrics_and_says_what_to_do() -> None:
    exported = _exported_names()
    rules = _rules()
    assert len(rules) >= 8
    for rule in rules:
        used = _metrics_used(rule["expr"])
        assert used, rule["alert"]
        assert used <= exported, (rule["alert"], used - exported)
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: str(rule["alert"]))
def test_every_rule_has_a_firing_and_a_non_firing_case(rule: dict[str, Any]) -> None:
    cases = _cases(rule["alert"])
    firing = [case for _, case in cases if case.get("exp_alerts")]
    quiet = [case for _, case in cases if not case.get("exp_alerts")]
    assert firing, f"{rule['alert']}: no promtool case where it fires ({RULE_TESTS.name})"
    assert quiet, f"{rule['alert']}: no promtool case where it stays quiet ({RULE_TESTS.name})"
    # A quiet case fed none of the rule's metrics proves nothing about the rule's threshold.
    used = _metrics_used(rule["expr"])
    for fed, case in cases:
        assert used <= fed, (rule["alert"], case["eval_time"], used - fed)
    # A firing case checks what the operator reads, not only that something fired.
    for case in firing:
        for alert in case["exp_alerts"]:
            assert alert["exp_labels"]["severity"] == rule["labels"]["severity"]
            assert set(alert["exp_annotations"]) == {"summary", "description"}


def test_key_alerts_fire_where_the_console_and_status_warn() -> None:
    thresholds = {
        rule["alert"]: rule["expr"] for rule in _rules() if "blg_key_expiry_days" in rule["expr"]
    }
    assert set(thresholds) == {"BlgOwnKeyExpiring", "BlgPeerKeyExpiring"}
    for expr in thresholds.values():
        assert expr.endswith(f"< {KEYS_WARNING_DAYS}"), expr


NEEDS_PROMTOOL = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (make alert-rules installs it)"
)


def _promtool_test(folder: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, "test", "rules", RULE_TESTS.name],
        check=False,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


@NEEDS_PROMTOOL
def test_promtool_passes_the_shipped_rules() -> None:
    shipped = _promtool_test(PROMETHEUS)
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr


@NEEDS_PROMTOOL
@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: str(rule["alert"]))
def test_promtool_notices_when_a_rule_can_no_longer_fire(
    rule: dict[str, Any], tmp_path: Path
) -> None:
    document = yaml.safe_load(RULES.read_text())
    for group in document["groups"]:
        for candidate in group["rules"]:
            if candidate["alert"] == rule["alert"]:
                candidate["expr"] = f"({candidate['expr']}) and on () vector(0) > 1"
    (tmp_path / RULES.name).write_text(yaml.safe_dump(document))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    mutated = _promtool_test(tmp_path)
    assert mutated.returncode != 0, f"{rule['alert']} never fires and promtool still passes"
    assert f"alertname: {rule['alert']}" in mutated.stdout + mutated.stderr
