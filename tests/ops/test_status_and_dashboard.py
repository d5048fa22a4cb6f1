"""`gateway status`, /metrics and the Grafana dashboard on real nodes: the same figures.

Two `gateway run` processes exchange traffic of every sort the dashboard charts (deliveries
both ways, a file dropped by a local system, a local system whose webhook is down, a refused
handshake and a refused sender); then the receiving node stops while messages still wait for
it. The status command's JSON must then say what the sender's /metrics says, field by field,
and every metric the dashboard queries must have samples on that page.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from gateway.federation.server import ENVELOPES_PATH, SENDER_HEADER
from tests.federation.harness import Federation, alert, free_port, local_client

GATEWAY = str(Path(sys.executable).parent / "gateway")
POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
DASHBOARD = Path(__file__).resolve().parents[2] / "config" / "grafana" / "dashboard.json"
CALLS = Path(__file__).resolve().parents[2] / "gateway" / "demo" / "samples" / "calls.csv"
CONTENT = "Hai anh em"  # a free-text field of the alerts sent: never in an operator's output
Labels = frozenset[tuple[str, str]]

# Which metric carries each figure of `gateway status --format json`.
PEER_FIGURES = {
    "pending": "blg_outbox_pending",
    "oldest_pending_seconds": "blg_outbox_oldest_pending_seconds",
    "reachability": "blg_peer_reachable",
    "consecutive_failures": "blg_peer_consecutive_failures",
    "last_success_at": "blg_peer_last_success_timestamp_seconds",
    "key_expiry_days": "blg_key_expiry_days",
}
LOCAL_FIGURES = {
    "backlog": "blg_local_delivery_pending",
    "oldest_pending_seconds": "blg_local_delivery_oldest_pending_seconds",
    "held": "blg_local_deliveries_held",
}


def _gateway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GATEWAY, *args], check=False, capture_output=True, text=True, timeout=60)


def _status(federation: Federation, node: str) -> dict[str, Any]:
    shown = _gateway("status", "--config", str(federation.config_path(node)), "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert CONTENT not in shown.stdout
    figures: dict[str, Any] = json.loads(shown.stdout)
    return figures


def _samples(text: str) -> dict[str, dict[Labels, float]]:
    """Every sample of the exposition text, by metric name then label set."""
    found: dict[str, dict[Labels, float]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)", line)
        assert match, line
        name, labels, value = match.groups()
        pairs = frozenset(re.findall(r'([a-zA-Z_]+)="([^"]*)"', labels or ""))
        found.setdefault(name, {})[pairs] = float(value)
    return found


def _value(samples: dict[str, dict[Labels, float]], name: str, **labels: str) -> float | None:
    return samples.get(name, {}).get(frozenset(labels.items()))


async def _wait(condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {timeout}s: {what}")


async def _exchange(federation: Federation, tmp_path: Path) -> None:
    """Both nodes up, traffic of every sort the dashboard charts, seen on /metrics."""
    _token, case_system = local_client("case-system", ["vn-police-json"])
    # Nothing listens there: incoming messages wait in the backlog.
    case_system["delivery"] = {
        "type": "webhook",
        "url": f"http://127.0.0.1:{free_port()}/blg-inbox",
        "hmac_secret": "a-shared-secret-of-at-least-32-characters",
    }
    _token, hotline = local_client("hotline-111", ["hotline-111-csv"], ["hotline_alert"])
    outgoing = tmp_path / "hotline-out"
    hotline["outgoing_folder"] = {
        "path": str(outgoing),
        "format": "hotline-111-csv",
        "to": [RATANAKIRI],
        "poll_interval": "200ms",
    }
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[POLICE] = {"local_clients": [case_system, hotline]}
    for node in (POLICE, RATANAKIRI):
        federation.write_config(node)
        federation.start(node)
        await federation.wait_ready(node)

    await federation.send(POLICE, RATANAKIRI, [alert("ST-1")])
    (outgoing / "calls.csv").write_bytes(CALLS.read_bytes())
    await federation.send(RATANAKIRI, POLICE, [alert("ST-2"), alert("ST-3")])
    await federation.wait_delivered(RATANAKIRI, 2)
    # Not TLS at all: a refused handshake.
    with socket.create_connection(("127.0.0.1", federation.nodes[POLICE].federation_port)) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\n\r\n")
    # A real peer's certificate naming a sender that is no peer: a refused request.
    connector = aiohttp.TCPConnector(ssl=federation.client_ssl(as_node=RATANAKIRI))
    url = f"https://127.0.0.1:{federation.nodes[POLICE].federation_port}{ENVELOPES_PATH}"
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(url, data=b"", headers={SENDER_HEADER: "xx-nobody"}) as response,
    ):
        assert response.status == 403

    async def settled() -> bool:
        samples = _samples(await federation.metrics_text(POLICE))
        return (
            _value(samples, "blg_outbox_pending", peer=RATANAKIRI) == 0
            and "blg_dropped_files_total" in samples
            and (_value(samples, "blg_local_delivery_pending", client="case-system") or 0) >= 2
            and "blg_listener_refused_connections_total" in samples
        )

    await _wait(settled, "the exchange seen on the sender's /metrics")


async def test_status_says_what_metrics_say_with_the_peer_down(
    federation: Federation, tmp_path: Path
) -> None:
    await _exchange(federation, tmp_path)
    federation.kill(RATANAKIRI, signal.SIGTERM)
    await federation.send(POLICE, RATANAKIRI, [alert("ST-4"), alert("ST-5")])

    async def peer_down() -> bool:
        [peer] = [row for row in _status(federation, POLICE)["peers"] if row["id"] == RATANAKIRI]
        return bool(peer["reachability"] == "unreachable" and peer["pending"] == 2)

    await _wait(peer_down, f"{POLICE} sees {RATANAKIRI} unreachable with 2 waiting")

    samples = _samples(await federation.metrics_text(POLICE))
    status = _status(federation, POLICE)
    [peer] = status["peers"]
    assert peer["id"] == RATANAKIRI
    metric = PEER_FIGURES
    assert peer["pending"] == _value(samples, metric["pending"], peer=RATANAKIRI) == 2
    assert _value(samples, metric["reachability"], peer=RATANAKIRI) == 0
    assert peer["oldest_pending_seconds"] > 0
    age = _value(samples, metric["oldest_pending_seconds"], peer=RATANAKIRI)
    assert age is not None
    assert abs(peer["oldest_pending_seconds"] - age) < 10
    # Failures go on growing while the peer is down: the later reading has at least as many.
    failures = _value(samples, metric["consecutive_failures"], peer=RATANAKIRI)
    assert failures is not None
    assert 1 <= failures <= peer["consecutive_failures"]
    last_success = _value(samples, metric["last_success_at"], peer=RATANAKIRI)
    assert last_success is not None
    assert peer["last_success_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last_success))
    peer_key_days = [
        value
        for labels, value in samples[metric["key_expiry_days"]].items()
        if ("peer", RATANAKIRI) in labels
    ]
    assert peer["key_expiry_days"] == max(peer_key_days) > 300
    for key in status["keys"]:
        days = _value(samples, "blg_key_expiry_days", peer=key["owner"], key=key["id"])
        assert key["days_left"] == days
    assert status["own_key_expiry_days"] == _value(
        samples, "blg_key_expiry_days", peer="self", key="k1"
    )

    [local] = status["local_systems"]  # the hotline has no delivery target: no backlog
    assert local["id"] == "case-system"
    assert local["backlog"] == _value(samples, LOCAL_FIGURES["backlog"], client="case-system") == 2
    assert local["held"] == _value(samples, LOCAL_FIGURES["held"], client="case-system") == 0
    local_age = _value(samples, LOCAL_FIGURES["oldest_pending_seconds"], client="case-system")
    assert local_age is not None
    assert local_age > 0
    assert abs(local["oldest_pending_seconds"] - local_age) < 10

    # The table says the same, and the stopped node answers from its database.
    table = _gateway("status", "--config", str(federation.config_path(POLICE)))
    assert table.returncode == 0, table.stderr
    # The peers' table comes first; the keys' table names the peer again.
    row = next(line.split() for line in table.stdout.splitlines() if line.startswith(RATANAKIRI))
    assert row[1:3] == ["unreachable", "2"]
    down = _gateway("status", "--config", str(federation.config_path(RATANAKIRI)))
    assert down.returncode == 0, down.stderr
    row = next(line.split() for line in down.stdout.splitlines() if line.startswith(POLICE))
    assert row[1:3] == ["reachable", "0"]
    for output in (table.stdout, down.stdout, down.stderr):
        assert CONTENT not in output
        assert "Traceback" not in output


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            exprs.append(variable["query"]["query"])
    return exprs


async def test_every_metric_the_dashboard_queries_is_on_a_running_node(
    federation: Federation, tmp_path: Path
) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    rows = {panel.get("repeat"): panel for panel in dashboard["panels"] if panel["type"] == "row"}
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    # One row per peer and one per local system, repeated over template variables.
    assert {"peer", "client"} <= set(rows)
    assert {"peer", "client", "instance"} <= variables
    exprs = _exprs(dashboard)
    named = {name for expr in exprs for name in re.findall(r"\bblg_[a-z_]+", expr)}
    # The dashboard shows every figure `gateway status` prints.
    assert set(PEER_FIGURES.values()) | set(LOCAL_FIGURES.values()) <= named

    await _exchange(federation, tmp_path)
    samples = _samples(await federation.metrics_text(POLICE))
    missing = sorted(name for name in named if name not in samples)
    assert not missing, f"queried by the dashboard, no sample on /metrics: {missing}"
