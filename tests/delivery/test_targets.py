"""Delivery targets in process: the drop folder's crash recovery, the webhook's signature."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from pathlib import Path

import pytest

from gateway.delivery.targets import (
    Document,
    DropFolderTarget,
    TargetUnavailable,
    webhook_signature,
)
from gateway.store import PendingLocalDelivery


def _delivery(delivering: bool = False) -> PendingLocalDelivery:
    return PendingLocalDelivery(
        id=1,
        inbox_id=1,
        delivering=delivering,
        attempts=0,
        file_name=None,
        sender="vn-gialai-police",
        message_id=uuid.UUID("0193f0c2-7d4e-7b8a-9c1d-2e3f4a5b6c7d"),
        case_id=uuid.uuid4(),
        kind="victim_handover",
        envelope=b"",
    )


DOCUMENT = Document(b"<Notice/>", "application/vnd.kh-police+xml", "xml")


async def test_a_drop_folder_gets_the_file_under_its_final_name_only(tmp_path: Path) -> None:
    recorded: list[str] = []

    async def record(name: str) -> None:
        # At this moment the document exists only under its temporary name.
        assert [p.name.startswith(".") for p in tmp_path.iterdir()] == [True]
        recorded.append(name)

    await DropFolderTarget(tmp_path).deliver(_delivery(), DOCUMENT, record)
    assert recorded == ["victim_handover-0193f0c2-7d4e-7b8a-9c1d-2e3f4a5b6c7d.xml"]
    assert [p.name for p in tmp_path.iterdir()] == recorded
    assert (tmp_path / recorded[0]).read_bytes() == DOCUMENT.data


async def _never(name: str) -> None:
    raise AssertionError(f"recovery must not record again: {name}")


async def test_recovery_after_a_crash_before_the_rename_finishes_it(tmp_path: Path) -> None:
    temporary = tmp_path / ".victim_handover-0193f0c2-7d4e-7b8a-9c1d-2e3f4a5b6c7d.xml.tmp"
    temporary.write_bytes(DOCUMENT.data)
    await DropFolderTarget(tmp_path).deliver(_delivery(delivering=True), DOCUMENT, _never)
    assert [p.name for p in tmp_path.iterdir()] == [
        "victim_handover-0193f0c2-7d4e-7b8a-9c1d-2e3f4a5b6c7d.xml"
    ]


async def test_recovery_after_the_rename_writes_nothing_again(tmp_path: Path) -> None:
    # The local system already took the file: it must not reappear.
    await DropFolderTarget(tmp_path).deliver(_delivery(delivering=True), DOCUMENT, _never)
    assert list(tmp_path.iterdir()) == []


async def test_an_unwritable_folder_is_a_retryable_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")

    async def record(name: str) -> None:
        del name

    with pytest.raises(TargetUnavailable, match="filesystem"):
        await DropFolderTarget(blocker / "in").deliver(_delivery(), DOCUMENT, record)


def test_webhook_signature_is_an_hmac_of_time_and_body() -> None:
    secret = b"s" * 32
    header = webhook_signature(secret, 1_700_000_000, b"{}")
    timestamp, mac = header.split(",")
    assert timestamp == "t=1700000000"
    expected = hmac.new(secret, b"1700000000.{}", hashlib.sha256).hexdigest()
    assert mac == f"v1={expected}"
