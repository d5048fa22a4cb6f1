"""A real Prometheus (Debian's package) scrapes two real gateways on loopback; when one stops,
the other's verdict turns to unreachable and the shipped BlgPeerUnreachable rule fires.

The test runs the shipped rules with only `for:` shortened (and 1 s scrape and evaluation
intervals), so what fires is the rule an operator loads. Prometheus authenticates to
/metrics with the bearer token of listen.api.metrics_token_sha256, as a deployment would.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.federation.harness import Federation, alert, free_port, local_client
from tests.federation.test_acknowledgements import post_notice

RULES = Path(__file__).resolve().parents[2] / "config" / "prometheus" / "blg-alerts.yml"
POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
ALERT = "BlgPeerUnreachable"


def _rules_with_short_for(folder: Path) -> Path:
    document = yaml.safe_load(RULES.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "2s"
    path = folder / RULES.name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture
async def prometheus(federation: Federation, tmp_path: Path) -> AsyncIterator[str]:
    """Prometheus scraping both nodes' operations listeners; yields its base URL."""
    binary = shutil.which("prometheus")
    assert binary, "Debian's prometheus package is needed (`make prometheus` installs it)"
    await federation.add(POLICE, RATANAKIRI)
    folder = tmp_path / "prometheus"
    folder.mkdir()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(_rules_with_short_for(folder))],
        "scrape_configs": [
            {
                "job_name": "blg",
                "authorization": {"type": "Bearer", "credentials": federation.metrics_token},
                "static_configs": [
                    {
                        "targets": [
                            f"127.0.0.1:{federation.nodes[node].api_port}"
                            for node in (POLICE, RATANAKIRI)
                        ]
                    }
                ],
            }
        ],
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    with (folder / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


async def _api(session: aiohttp.ClientSession, url: str, **params: str) -> Any:
    async with session.get(url, params=params) as response:
        assert response.status == 200, await response.text()
        body = await response.json()
    assert body["status"] == "success", body
    return body["data"]


async def _eventually(
    check: Callable[[], Awaitable[bool]], what: str, log: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await check():
                return
        except aiohttp.ClientConnectionError:
            pass  # Prometheus still starting
        await asyncio.sleep(0.5)
    raise AssertionError(f"not within {timeout}s: {what}\n{log.read_text()[-3000:]}")


async def test_peer_unreachable_fires_in_prometheus_when_a_gateway_stops(
    federation: Federation, prometheus: str, tmp_path: Path
) -> None:
    log = tmp_path / "prometheus" / "prometheus.log"
    police = f"127.0.0.1:{federation.nodes[POLICE].api_port}"
    for node in (POLICE, RATANAKIRI):
        federation.start(node)
        await federation.wait_ready(node)
    await federation.send(POLICE, RATANAKIRI, [alert("PR-1")])
    await federation.wait_delivered(POLICE, 1)

    async with aiohttp.ClientSession() as session:

        async def query(expr: str) -> list[dict[str, Any]]:
            data = await _api(session, f"{prometheus}/api/v1/query", query=expr)
            result: list[dict[str, Any]] = data["result"]
            return result

        async def firing() -> list[dict[str, Any]]:
            data = await _api(session, f"{prometheus}/api/v1/alerts")
            return [
                item
                for item in data["alerts"]
                if item["labels"]["alertname"] == ALERT and item["state"] == "firing"
            ]

        async def both_scraped_and_reachable() -> bool:
            up = await query('up{job="blg"} == 1')
            reachable = await query(
                f'blg_peer_reachable{{instance="{police}", peer="{RATANAKIRI}"}} == 1'
            )
            return len(up) == 2 and len(reachable) == 1

        await _eventually(both_scraped_and_reachable, "both nodes scraped, the peer reachable", log)
        assert await firing() == []

        federation.kill(RATANAKIRI, signal.SIGTERM)
        await federation.send(POLICE, RATANAKIRI, [alert("PR-2")])

        async def alert_fires() -> bool:
            return bool(await firing())

        await _eventually(alert_fires, f"{ALERT} firing for {RATANAKIRI}", log)
        [fired] = await firing()
        assert fired["labels"]["peer"] == RATANAKIRI
        assert fired["labels"]["instance"] == police
        assert fired["labels"]["severity"] == "warning"
        assert RATANAKIRI in fired["annotations"]["summary"]
        # The stopped node is seen as down too, and it is not what the alert is about.
        stopped = f"127.0.0.1:{federation.nodes[RATANAKIRI].api_port}"

        async def stopped_is_down() -> bool:
            down = await query('up{job="blg"} == 0')
            return [item["metric"]["instance"] for item in down] == [stopped]

        await _eventually(stopped_is_down, f"{RATANAKIRI} seen down", log)


async def test_acknowledgement_overdue_fires_in_prometheus_and_clears_when_acknowledged(
    federation: Federation, prometheus: str, tmp_path: Path
) -> None:
    """Issue 11 item 2: a wanted notice requesting arrest, with a 2 s deadline, is receipted
    but not acknowledged: the shipped BlgAcknowledgementOverdue fires for its peer and kind;
    the receiving node acknowledges it by its local API and the alert resolves."""
    log = tmp_path / "prometheus" / "prometheus.log"
    police_token, police_client = local_client("case-system", ["vn-police-json"])
    rtk_token, rtk_client = local_client("police-records", ["kh-police-xml"])
    federation.sections[POLICE] = {
        "local_clients": [police_client],
        "acknowledgements": [{"kind": "wanted_person_notice", "request": "arrest", "within": "2s"}],
    }
    federation.sections[RATANAKIRI] = {"local_clients": [rtk_client]}
    for node in (POLICE, RATANAKIRI):
        federation.write_config(node)
        federation.start(node)
        await federation.wait_ready(node)
    status, queued = await post_notice(federation.api_url(POLICE), police_token)
    assert status == 202, queued
    [sent] = queued["messages"]

    async with aiohttp.ClientSession() as session:

        async def firing() -> list[dict[str, Any]]:
            data = await _api(session, f"{prometheus}/api/v1/alerts")
            return [
                item
                for item in data["alerts"]
                if item["labels"]["alertname"] == "BlgAcknowledgementOverdue"
                and item["state"] == "firing"
            ]

        async def fires() -> bool:
            return bool(await firing())

        await _eventually(fires, "BlgAcknowledgementOverdue firing", log)
        [fired] = await firing()
        assert fired["labels"]["peer"] == RATANAKIRI
        assert fired["labels"]["kind"] == "wanted_person_notice"
        assert set(fired["labels"]) == {"alertname", "instance", "job", "peer", "kind", "severity"}

        url = f"{federation.api_url(RATANAKIRI)}/api/v1/inbox/{sent['id']}/acknowledge"
        headers = {"Authorization": f"Bearer {rtk_token}"}
        async with session.post(url, headers=headers) as response:
            assert response.status == 202, await response.text()

        async def resolved() -> bool:
            return not await firing()

        await _eventually(resolved, "BlgAcknowledgementOverdue resolved", log)
