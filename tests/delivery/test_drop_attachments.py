"""Outgoing drop folders with attachments, through a real `gateway run` (issue 11 item 1).

A drop-folder partner puts each attachment as `attachments/<id>` and then drops the record:
the watcher stages the files through the API's staging path, queues the records, and moves
the files the queued records named to done/attachments/. A record whose file is absent, of
an unaccepted type (by its first bytes) or over the limit goes to `.errors` naming the field;
its file stays for the partner to fix.
"""

from __future__ import annotations

import asyncio
import json
import stat
import time
from pathlib import Path
from typing import Any

import aiohttp

from adapters import adapter_for
from gateway.delivery.folder_attachments import sniff_media_type
from gateway.federation.outgoing_attachments import attachment_refs
from gateway.federation.streams import StagingLocks
from tests.federation.harness import Federation, local_client

BLO, RATANAKIRI = "vn-gialai-blo", "kh-ratanakiri-police"
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "partners"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 40
PDF = b"%PDF-1.7\n" + b"scan " * 3000
LIMIT = 64 * 1024


def handover(reference: str, photos: list[str], documents: list[str]) -> bytes:
    """The vn-police-json handover sample under another reference, naming these ids."""
    document: dict[str, Any] = json.loads(
        (SAMPLES / "vn-police-json" / "samples" / "ban_giao.json").read_text()
    )
    document["so_hieu"] = reference
    document["nan_nhan"][0]["anh"] = photos
    document["tai_lieu"] = documents
    return json.dumps(document, ensure_ascii=False).encode()


def outgoing_folder_client(folder: Path) -> dict[str, Any]:
    _, client = local_client("blo-records", ["vn-police-json"])
    client["outgoing_folder"] = {
        "path": str(folder),
        "format": "vn-police-json",
        "to": [RATANAKIRI],
        "poll_interval": "200ms",
    }
    return client


def drop(folder: Path, name: str, data: bytes) -> None:
    """Written under a dot name, then renamed: the watcher never sees a half file."""
    (folder / f".{name}").write_bytes(data)
    (folder / f".{name}").replace(folder / name)


async def wait_for(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


async def test_records_take_their_attachment_files_and_refusals_name_the_field(
    federation: Federation, tmp_path: Path
) -> None:
    folder = tmp_path / "blo-out"
    attachments = folder / "attachments"
    attachments.mkdir(parents=True)
    await federation.add(BLO, RATANAKIRI)
    federation.sections[BLO] = {
        "local_clients": [outgoing_folder_client(folder)],
        "limits": {"max_attachment_bytes": "64KiB"},
    }
    federation.write_config(BLO)
    # (id, bytes) put in attachments/ first, then the records naming them.
    files = {
        "anh-1": JPEG,
        "ho-so-1": PDF,
        "ghi-chu": b"just some text, not a photo",
        "qua-lon": b"\xff\xd8\xff" + bytes(LIMIT),
    }
    for attachment_id, data in files.items():
        (attachments / attachment_id).write_bytes(data)
    # name: (record, expected .errors line or None when queued)
    cases = {
        "ok.json": (handover("BG-1", ["anh-1"], ["ho-so-1"]), None),
        "absent.json": (
            handover("BG-2", [], ["khong-co"]),
            "victim_handover.attachment_ids[0]: expected a file attachments/khong-co or an upload",
        ),
        "text.json": (
            handover("BG-3", ["ghi-chu"], []),
            "victim_handover.victims[0].person.attachment_ids[0]: expected a file of type "
            "image/jpeg, image/png, image/webp, application/pdf, image/tiff (by its first bytes)",
        ),
        "big.json": (
            handover("BG-4", [], ["qua-lon"]),
            "victim_handover.attachment_ids[0]: at most 65536 bytes per attachment "
            "(limits.max_attachment_bytes)",
        ),
    }
    federation.start(BLO)
    await federation.wait_ready(BLO)
    for name, (record, _) in cases.items():
        drop(folder, name, record)

    done = folder / "done"
    await wait_for(lambda: len([p for p in done.glob("*.json")]) == len(cases), "records done")
    for name, (_, expected) in cases.items():
        errors = folder / f"{name}.errors"
        if expected is None:
            assert not errors.exists(), name
        else:
            lines = errors.read_text().splitlines()
            assert len(lines) == 1, (name, lines)
            assert lines[0].endswith(expected), (name, lines)
            assert _mode(errors) == 0o600
    # The queued record's files moved with it, private; the refused records' files stay.
    assert sorted(p.name for p in (done / "attachments").iterdir()) == ["anh-1", "ho-so-1"]
    assert _mode(done / "attachments") == 0o700
    for attachment_id in ("anh-1", "ho-so-1"):
        moved = done / "attachments" / attachment_id
        assert moved.read_bytes() == files[attachment_id]
        assert _mode(moved) == 0o600
    assert sorted(p.name for p in attachments.iterdir()) == ["ghi-chu", "qua-lon"]

    store = await federation.store(BLO)
    try:
        staged = {
            aid: await store.staged_attachment("blo-records", aid)
            for aid in ("anh-1", "ho-so-1", "ghi-chu", "qua-lon", "khong-co")
        }
        queued = sum((await store.state_counts()).values())
        uploads = [row for row in await store.list_audit(50) if row.action == "attachment.uploaded"]
    finally:
        await store.close()
    photo, scan = staged.pop("anh-1"), staged.pop("ho-so-1")
    assert photo is not None
    assert (photo.complete, photo.media_type, photo.plaintext_size) == (
        True,
        "image/jpeg",
        len(JPEG),
    )
    assert scan is not None
    assert (scan.complete, scan.media_type) == (True, "application/pdf")
    assert set(staged.values()) == {None}  # refused files are never staged
    assert queued == 1
    # Audited as the API's uploads are, by the folder's actor, with sizes only.
    assert sorted((row.actor, row.subject) for row in uploads) == [
        ("drop-folder:blo-records", "anh-1"),
        ("drop-folder:blo-records", "ho-so-1"),
    ]
    assert "Traceback" not in federation.log_tail(BLO)


def test_media_types_come_from_the_first_bytes() -> None:
    table = {
        b"\xff\xd8\xff\xdb rest": "image/jpeg",
        b"\x89PNG\r\n\x1a\n rest": "image/png",
        b"RIFF\x10\x00\x00\x00WEBPVP8 ": "image/webp",
        b"%PDF-1.4\n": "application/pdf",
        b"II*\x00\x08\x00\x00\x00": "image/tiff",
        b"MM\x00*\x00\x00\x00\x08": "image/tiff",
        b"RIFF\x10\x00\x00\x00WAVEfmt ": None,
        b"GIF89a": None,
        b"<svg>": None,
        b"": None,
    }
    for head, expected in table.items():
        assert sniff_media_type(head) == expected, head


async def test_a_handover_dropped_with_two_files_reaches_the_peers_drop_folder_intact(
    federation: Federation, tmp_path: Path
) -> None:
    folder = tmp_path / "blo-out"
    (folder / "attachments").mkdir(parents=True)
    inbox_folder = tmp_path / "rtk-in"
    rtk_token, rtk_client = local_client("police-records", ["kh-police-xml"])
    rtk_client["delivery"] = {"type": "drop_folder", "path": str(inbox_folder)}
    await federation.add(BLO, RATANAKIRI)
    federation.sections[BLO] = {"local_clients": [outgoing_folder_client(folder)]}
    federation.sections[RATANAKIRI] = {"local_clients": [rtk_client]}
    for node in (BLO, RATANAKIRI):
        federation.write_config(node)
        federation.start(node)
        await federation.wait_ready(node)
    (folder / "attachments" / "anh-nan-nhan").write_bytes(JPEG)
    (folder / "attachments" / "bien-ban").write_bytes(PDF)
    drop(folder, "ban_giao.json", handover("BG-2026-0099", ["anh-nan-nhan"], ["bien-ban"]))

    await wait_for(lambda: len(list(inbox_folder.glob("*.xml"))) == 1, "the message file")
    (message_file,) = inbox_folder.glob("*.xml")
    attachments = inbox_folder / f"{message_file.stem}.attachments"
    received = {p.name: p.read_bytes() for p in attachments.iterdir()}
    # Written before the message file appeared: complete, no temporary left.
    assert sorted(received.values()) == sorted([JPEG, PDF])
    assert _mode(attachments) == 0o700
    assert {_mode(p) for p in attachments.iterdir()} == {0o600}
    # The document names exactly the files beside it (the receiver's wire ids).
    decoded = adapter_for("kh-police-xml").decode(message_file.read_bytes()).messages[0]
    named = {aid for _, aid in attachment_refs(decoded.message)}
    assert named == set(received)
    assert not list(inbox_folder.glob(".*"))
    assert sorted(p.name for p in (folder / "done" / "attachments").iterdir()) == [
        "anh-nan-nhan",
        "bien-ban",
    ]
    # The inbox API lists the same attachments, and each url serves the same bytes.
    api_url = federation.api_url(RATANAKIRI)
    auth = {"Authorization": f"Bearer {rtk_token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{api_url}/api/v1/inbox", headers=auth) as response:
            (item,) = (await response.json())["messages"]
        listed = item["attachments"]
        assert {entry["id"] for entry in listed} == named
        by_type = {entry["media_type"]: entry for entry in listed}
        assert set(by_type) == {"image/jpeg", "application/pdf"}
        for media_type, data in (("image/jpeg", JPEG), ("application/pdf", PDF)):
            entry = by_type[media_type]
            assert entry["size"] == len(data)
            assert entry["url"] == (f"/api/v1/inbox/{item['id']}/attachments/{entry['id']}")
            async with session.get(f"{api_url}{entry['url']}", headers=auth) as response:
                assert response.status == 200
                assert await response.read() == data == received[entry["id"]]
    for node in (BLO, RATANAKIRI):
        assert "Traceback" not in federation.log_tail(node)


async def test_one_staging_of_a_client_id_at_a_time_whichever_entry_point() -> None:
    locks = StagingLocks()
    order: list[str] = []
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with locks.hold("blo-records", "anh-1"):
            order.append("first in")
            first_in.set()
            await release.wait()
            order.append("first out")

    async def second(attachment_id: str) -> None:
        await first_in.wait()
        async with locks.hold("blo-records", attachment_id):
            order.append(f"{attachment_id} in")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second("anh-1"))]
    await asyncio.create_task(second("ho-so-1"))  # another id does not wait
    assert order == ["first in", "ho-so-1 in"]
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["first in", "ho-so-1 in", "first out", "anh-1 in"]
