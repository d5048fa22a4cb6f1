"""The shipped Prometheus rules refer only to metrics the gateway exports."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from gateway.ops.metrics import GatewayMetrics

RULES = Path(__file__).resolve().parents[2] / "config" / "prometheus" / "blg-alerts.yml"


def _exported_names() -> set[str]:
    names: set[str] = set()
    for family in GatewayMetrics().registry.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        names.update(family.name + suffix for suffix in suffixes.get(family.type, [""]))
    return names


def test_every_rule_uses_exported_metrics_and_says_what_to_do() -> None:
    document = yaml.safe_load(RULES.read_text())
    exported = _exported_names()
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert len(rules) >= 6
    for rule in rules:
        used = set(re.findall(r"\bblg_[a-z_]+", rule["expr"]))
        assert used, rule["alert"]
        assert used <= exported, (rule["alert"], used - exported)
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]
