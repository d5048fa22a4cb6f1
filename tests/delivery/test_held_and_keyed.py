"""Real nodes: a message the client's format cannot render is held and the feed behind it
flows on, then requeued after a fix; two peers reusing one message id give two deliveries;
inbox reads through the API are audited."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

import gateway.federation.outgoing
from adapters import adapter_for
from gateway.wire import canonical
from tests.delivery.conftest import Webhook
from tests.federation.harness import Federation, alert, local_client

GATEWAY = str(Path(sys.executable).parent / "gateway")
POLICE, RATANAKIRI, STUNGTRENG = (
    "vn-gialai-police",
    "kh-ratanakiri-police",
    "kh-stungtreng-police",
)
HMAC_SECRET = "a-shared-secret-of-at-least-32-characters"
EXTENSION = {"hotline-111-csv": "csv", "vn-police-json": "json", "kh-police-xml": "xml"}


def gateway_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([GATEWAY, *args], check=False, capture_output=True, text=True, timeout=60)


async def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _without_channel(message: canonical.Message) -> canonical.Message:
    message.hotline_alert.ClearField("channel")
    return message


def _handover_without_issued_at(message: canonical.Message) -> canonical.Message:
    """A victim handover under the alert's reference, written without a time."""
    return canonical.Message(
        sender_reference=message.sender_reference,
        action=canonical.ACTION_PROPOSE,
        handling=canonical.HANDLING_RESTRICTED,
        victim_handover=canonical.VictimHandover(border_gate="VN-LETHANH", note="Hai anh em"),
    )


@pytest.mark.parametrize(
    ("native", "spoil"),
    [("hotline-111-csv", _without_channel), ("vn-police-json", _handover_without_issued_at)],
    ids=["csv-alert-without-channel", "vn-json-handover-without-issued-at"],
)
async def test_a_message_the_format_cannot_render_is_held_and_the_feed_flows_on(
    federation: Federation,
    tmp_path: Path,
    native: str,
    spoil: Callable[[canonical.Message], canonical.Message],
) -> None:
    _token, client = local_client("police-records", [native, "kh-police-xml"])
    folder = tmp_path / "rtk-in"
    client["delivery"] = {"type": "drop_folder", "path": str(folder), "format": native}
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[RATANAKIRI] = {"local_clients": [client]}
    config = str(federation.write_config(RATANAKIRI))
    for node in (RATANAKIRI, POLICE):
        federation.start(node)
        await federation.wait_ready(node)

    messages = [alert("TB-1"), spoil(alert("TB-2")), alert("TB-3"), alert("TB-4")]
    queued = await federation.send(POLICE, RATANAKIRI, messages)
    poison = queued[1].message_id
    extension = EXTENSION[native]
    await wait_for(lambda: len(list(folder.glob(f"*.{extension}"))) == 3, "3 of 4 delivered")
    assert not any(str(poison) in path.name for path in folder.iterdir())

    held = gateway_cli("deliveries", "list", "--config", config, "--state", "held")
    assert held.returncode == 0, held.stderr
    [row] = held.stdout.splitlines()[1:]
    delivery_id, client_id, sender, message_id, _kind, state = row.split("\t")[:6]
    assert (client_id, sender, message_id, state) == ("police-records", POLICE, str(poison), "held")
    assert "\tcannot_encode:" in row
    status = gateway_cli("status", "--config", config, "--format", "json")
    assert status.returncode == 0, status.stderr
    figures = json.loads(status.stdout)
    local = {row["id"]: row for row in figures["local_systems"]}["police-records"]
    assert (local["backlog"], local["oldest_pending_at"], local["held"]) == (0, None, 1)
    assert {row["id"]: row["pending"] for row in figures["peers"]}[POLICE] == 0
    assert (
        'blg_local_deliveries_held{client="police-records"} 1.0'
        in await federation.metrics_text(RATANAKIRI)
    )
    for output in (held.stdout, status.stdout):
        assert "Hai anh em" not in output  # never content

    # The fix: the client takes a format that carries the message; then it is requeued.
    client["delivery"]["format"] = "kh-police-xml"
    federation.kill(RATANAKIRI, signal.SIGTERM)
    federation.write_config(RATANAKIRI)
    federation.start(RATANAKIRI)
    await federation.wait_ready(RATANAKIRI)
    requeued = gateway_cli("deliveries", "requeue", "--config", config, "--all-held")
    assert requeued.returncode == 0, requeued.stderr
    assert f"{delivery_id}\tpolice-records\t{POLICE}\t{poison}\trequeued" in requeued.stdout
    await wait_for(lambda: len(list(folder.glob("*.xml"))) == 1, "the requeued one delivered")
    [fixed] = folder.glob("*.xml")
    assert fixed.name.endswith(f"-{POLICE}-{poison}.xml")
    [decoded] = adapter_for("kh-police-xml").decode(fixed.read_bytes()).messages
    assert decoded.message.sender_reference == "TB-2"

    listed = gateway_cli("deliveries", "list", "--config", config)
    states = [line.split("\t")[5] for line in listed.stdout.splitlines()[1:]]
    assert states == ["delivered"] * 4
    store = await federation.store(RATANAKIRI)
    try:
        actions = [(entry.action, entry.subject) for entry in await store.list_audit(50)]
    finally:
        await store.close()
    assert ("local.held", str(poison)) in actions
    assert ("local.requeued", str(poison)) in actions
    assert actions.count(("local.delivered", str(poison))) == 1
    again = gateway_cli("deliveries", "requeue", "--config", config, delivery_id)
    assert again.returncode == 1
    assert f"not held (or not this client's): {delivery_id}" in again.stderr


async def test_two_peers_reusing_one_message_id_give_two_deliveries_and_reads_are_audited(
    federation: Federation, webhook: Webhook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records_token, records = local_client("police-records", ["kh-police-xml"], ["hotline_alert"])
    folder = tmp_path / "rtk-in"
    records["delivery"] = {"type": "drop_folder", "path": str(folder)}
    _token, cases = local_client("case-system", ["kh-police-xml"], ["hotline_alert"])
    cases["delivery"] = {
        "type": "webhook",
        "url": f"http://127.0.0.1:{webhook.port}/blg-inbox",
        "hmac_secret": HMAC_SECRET,
    }
    await federation.add(POLICE, STUNGTRENG, RATANAKIRI)
    federation.sections[RATANAKIRI] = {"local_clients": [records, cases]}
    federation.write_config(RATANAKIRI)
    for node in (RATANAKIRI, POLICE, STUNGTRENG):
        federation.start(node)
        await federation.wait_ready(node)

    # Message ids are each sender's own: nothing stops two peers from choosing the same one.
    shared = uuid.UUID("0193f0c2-7d4e-7b8a-9c1d-2e3f4a5b6c7d")
    monkeypatch.setattr(gateway.federation.outgoing, "uuid7", lambda: shared)
    await federation.send(POLICE, RATANAKIRI, [alert("VN-1")])
    await federation.send(STUNGTRENG, RATANAKIRI, [alert("KH-1")])

    await wait_for(lambda: len(list(folder.glob("*.xml"))) == 2, "two files")
    assert sorted(path.name for path in folder.glob("*.xml")) == [
        f"hotline_alert-{STUNGTRENG}-{shared}.xml",
        f"hotline_alert-{POLICE}-{shared}.xml",
    ]
    await wait_for(lambda: len(webhook.received) == 2, "two webhook calls")
    keys = set()
    for headers, body in webhook.received:
        key = headers["Idempotency-Key"]
        keys.add(key)
        timestamp, mac = headers["BLG-Signature"].split(",")
        signed = f"{timestamp[2:]}.{key}.".encode() + body
        expected = hmac.new(HMAC_SECRET.encode(), signed, hashlib.sha256).hexdigest()
        assert mac == f"v1={expected}"
        assert key == f"{headers['BLG-From']}:{shared}"
    assert keys == {f"{POLICE}:{shared}", f"{STUNGTRENG}:{shared}"}

    url = f"http://127.0.0.1:{federation.nodes[RATANAKIRI].api_port}/api/v1/inbox"
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers={"Authorization": f"Bearer {records_token}"}) as response,
    ):
        assert response.status == 200
        assert len((await response.json())["messages"]) == 2
    store = await federation.store(RATANAKIRI)
    try:
        reads = [entry for entry in await store.list_audit(50) if entry.action == "inbox.read"]
    finally:
        await store.close()
    assert sorted((entry.actor, entry.subject, entry.detail["sender"]) for entry in reads) == [
        ("api:police-records", str(shared), STUNGTRENG),
        ("api:police-records", str(shared), POLICE),
    ]
    assert all(
        entry.detail
        == {"client": "police-records"}
        | {"sender": entry.detail["sender"], "format": "kh-police-xml"}
        for entry in reads
    )
