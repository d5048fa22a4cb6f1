"""`gateway demo`: its samples, and one whole run of the installed command.

The run is the real thing (four `gateway run` processes, one embedded PostgreSQL, the samples
delivered and receipted) and then checks that nothing of it is left: no node answering on its
ports, no process running from its work directory.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml
from google.protobuf.message import Message as ProtobufMessage

from gateway.demo import DEMO_ROUTES, load_sample
from gateway.demo.federation import DEMO_AGENCIES, demo_agency
from gateway.policy import PeerRoute, RoutePolicy
from gateway.wire import canonical

GATEWAY = str(Path(sys.executable).parent / "gateway")
SAMPLES = Path(__file__).resolve().parents[2] / "gateway" / "demo" / "samples"
PARTNER_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "partners"

# Each sample is a partner sample; these are the kinds its messages hold.
EXPECTED_KINDS = {
    "truy_na.json": ["wanted_person_notice"],
    "ban_giao.json": ["victim_handover"],
    "tin_bao_111.json": ["hotline_alert"],
    "calls.csv": ["hotline_alert"] * 3,
    "wanted.xml": ["wanted_person_notice"],
    "alert.xml": ["hotline_alert"],
    "handover.xml": ["victim_handover"],
}


def test_the_samples_are_the_partners_own() -> None:
    shipped = {path.name: path.read_bytes() for path in SAMPLES.iterdir()}
    partners = {path.name: path.read_bytes() for path in PARTNER_SAMPLES.glob("*/samples/*")}
    assert shipped == partners


def test_every_sample_decodes_into_messages_of_its_kind() -> None:
    assert {route.sample for route in DEMO_ROUTES} == set(EXPECTED_KINDS)
    for route in DEMO_ROUTES:
        messages = load_sample(route)
        assert [m.WhichOneof("body") for m in messages] == EXPECTED_KINDS[route.sample]
        for message in messages:
            assert message.sender_reference, route.sample
            assert message.action != canonical.ACTION_UNSPECIFIED, route.sample
            assert message.handling != canonical.HANDLING_UNSPECIFIED, route.sample


def test_every_route_joins_two_demo_nodes() -> None:
    node_ids = {agency.id for agency in DEMO_AGENCIES}
    for route in DEMO_ROUTES:
        assert route.sender in node_ids
        assert route.recipients
        assert set(route.recipients) <= node_ids - {route.sender}


def test_no_copy_for_a_peer_outside_vietnam_carries_a_hotline_caller() -> None:
    policy = RoutePolicy({a.id: PeerRoute(a.country) for a in DEMO_AGENCIES})
    callers = 0
    for route in DEMO_ROUTES:
        for message in load_sample(route):
            callers += message.hotline_alert.HasField("caller")
            for peer in route.recipients:
                copy = policy.apply(message, peer).message
                if demo_agency(peer).country != "VN":
                    assert not copy.hotline_alert.HasField("caller"), route.sample
    assert callers >= 1  # the demo does send an alert that names its caller


def test_demo_has_help() -> None:
    result = subprocess.run(
        [GATEWAY, "demo", "--help"], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "--once" in result.stdout
    assert "--workdir" in result.stdout


def _personal_texts(message: ProtobufMessage) -> Iterator[str]:
    """Names, phones and free-text accounts anywhere in a message: what must never be shown."""
    for field, value in message.ListFields():
        values = value if field.is_repeated else [value]
        for item in values:
            if isinstance(item, ProtobufMessage):
                yield from _personal_texts(item)
            elif field.name in {"name", "name_latin", "phone", "summary", "note"} and item:
                yield str(item)


def _expected_rows() -> set[tuple[str, str, str, str]]:
    rows: set[tuple[str, str, str, str]] = set()
    for route in DEMO_ROUTES:
        for message in load_sample(route):
            for recipient in route.recipients:
                kind = message.WhichOneof("body")
                assert kind is not None
                rows.add((route.sender, recipient, kind, message.sender_reference))
    return rows


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that contain text (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        if text in command:
            found.append(f"{entry.name}: {command}")
    return found


def _accepts_connections(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_demo_once_delivers_every_route_and_leaves_nothing_running(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = subprocess.run(
        [GATEWAY, "demo", "--once", "--workdir", str(workdir)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    lines = result.stdout.splitlines()
    header = next(index for index, line in enumerate(lines) if line.startswith("FROM "))
    assert lines[header].split() == [
        "FROM", "TO", "KIND", "SENDER", "REFERENCE", "STATE", "RECEIPT", "LATENCY",
    ]  # fmt: skip
    end = lines.index("", header)  # the table ends at the first blank line
    table = [line.split() for line in lines[header + 1 : end]]
    assert len(table) == len(_expected_rows())
    assert {(row[0], row[1], row[2], row[3]) for row in table} == _expected_rows()
    for row in table:
        assert row[4] == "delivered", row
        assert row[5].endswith("Z"), row  # the receipt time, in UTC
        assert row[6].isdigit(), row  # the latency, in whole milliseconds
        assert row[7] == "ms", row
    assert f"all {len(table)} messages delivered" in result.stdout

    shown = result.stdout + result.stderr
    for route in DEMO_ROUTES:
        for message in load_sample(route):
            for text in _personal_texts(message):
                assert text not in shown, f"{route.sample} content shown"

    # Nothing of the demo outlives it: nodes gone from their ports, no process in its directory.
    for node_config in workdir.glob("*/node.yaml"):
        listen = yaml.safe_load(node_config.read_text(encoding="utf-8"))["listen"]
        for endpoint in ("federation", "api"):
            assert not _accepts_connections(listen[endpoint]["port"]), (node_config, endpoint)
    assert len(list(workdir.glob("*/node.yaml"))) == len(DEMO_AGENCIES)
    assert _processes_mentioning(str(workdir)) == []
    assert not (workdir / "postgres" / "postmaster.pid").exists()


def test_demo_refuses_a_workdir_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    result = subprocess.run(
        [GATEWAY, "demo", "--once", "--workdir", str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"gateway demo: --workdir {tmp_path} is not empty; give a new or empty directory"
    ]
    assert "Traceback" not in result.stderr
