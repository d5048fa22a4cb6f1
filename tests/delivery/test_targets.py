"""Delivery targets in process: the drop folder's crash recovery, file modes and symlink
refusal, the webhook's signature."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.delivery.targets import (
    Document,
    DropFolderTarget,
    TargetUnavailable,
    delivery_key,
    webhook_signature,
)
from gateway.store import PendingLocalDelivery


def _delivery(delivering: bool = False) -> PendingLocalDelivery:
    return PendingLocalDelivery(
        id=1,
        inbox_id=1,
        delivering=delivering,
        attempts=0,
        file_name=FINAL_NAME if delivering else None,
        sender="vn-gialai-police",
        message_id=uuid.UUID("0193f0c2-7d4e-7b8a-9c1d-2e3f4a5b6c7d"),
        case_id=uuid.uuid4(),
        kind="victim_handover",
        envelope=b"",
    )


DOCUMENT = Document(b"<Notice/>", "application/vnd.kh-police+xml", "xml")
MESSAGE_ID = "0193f0c2-7d4e-7b8a-9c1d-2e3f4a5b6c7d"
FINAL_NAME = f"victim_handover-vn-gialai-police-{MESSAGE_ID}.xml"
# Recovery finishes from the recorded name: the message need not render any more.
NO_DOCUMENT = Document(b"", "application/vnd.kh-police+xml", "")


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: modes must come from the gateway, not from the process."""
    previous = os.umask(0)
    yield
    os.umask(previous)


async def _record(name: str) -> None:
    del name


async def test_a_drop_folder_gets_the_file_under_its_final_name_only(tmp_path: Path) -> None:
    recorded: list[str] = []

    async def record(name: str) -> None:
        # At this moment the document exists only under its temporary name.
        assert [p.name.startswith(".") for p in tmp_path.iterdir()] == [True]
        recorded.append(name)

    await DropFolderTarget(tmp_path).deliver(_delivery(), DOCUMENT, record)
    assert recorded == [f"victim_handover-vn-gialai-police-{MESSAGE_ID}.xml"]
    assert [p.name for p in tmp_path.iterdir()] == recorded
    assert (tmp_path / recorded[0]).read_bytes() == DOCUMENT.data


async def _never(name: str) -> None:
    raise AssertionError(f"recovery must not record again: {name}")


async def test_recovery_after_a_crash_before_the_rename_finishes_it(tmp_path: Path) -> None:
    temporary = tmp_path / f".{FINAL_NAME}.tmp"
    temporary.write_bytes(DOCUMENT.data)
    await DropFolderTarget(tmp_path).deliver(_delivery(delivering=True), NO_DOCUMENT, _never)
    assert [p.name for p in tmp_path.iterdir()] == [FINAL_NAME]


async def test_recovery_after_the_rename_writes_nothing_again(tmp_path: Path) -> None:
    # The local system already took the file: it must not reappear.
    await DropFolderTarget(tmp_path).deliver(_delivery(delivering=True), NO_DOCUMENT, _never)
    assert list(tmp_path.iterdir()) == []


async def test_an_unwritable_folder_is_a_retryable_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")

    async def record(name: str) -> None:
        del name

    with pytest.raises(TargetUnavailable, match="filesystem"):
        await DropFolderTarget(blocker / "in").deliver(_delivery(), DOCUMENT, record)


def test_webhook_signature_covers_time_idempotency_key_and_body() -> None:
    secret = b"s" * 32
    key = delivery_key(_delivery())
    assert key == f"vn-gialai-police:{MESSAGE_ID}"
    header = webhook_signature(secret, 1_700_000_000, key, b"{}")
    timestamp, mac = header.split(",")
    assert timestamp == "t=1700000000"
    signed = f"1700000000.vn-gialai-police:{MESSAGE_ID}.{{}}".encode()
    assert mac == f"v1={hmac.new(secret, signed, hashlib.sha256).hexdigest()}"
    assert header != webhook_signature(secret, 1_700_000_000, f"kh-other:{MESSAGE_ID}", b"{}")


async def test_delivered_files_and_created_folders_are_private_whatever_the_umask(
    tmp_path: Path, open_umask: None
) -> None:
    del open_umask
    folder = tmp_path / "new" / "in"
    await DropFolderTarget(folder).deliver(_delivery(), DOCUMENT, _record)
    assert stat.S_IMODE((folder / FINAL_NAME).stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("planted_at", [FINAL_NAME, f".{FINAL_NAME}.tmp"])
async def test_a_symlink_planted_in_a_drop_folder_is_refused_not_followed(
    tmp_path: Path, planted_at: str
) -> None:
    folder, outside = tmp_path / "in", tmp_path / "outside.txt"
    folder.mkdir()
    outside.write_bytes(b"untouched")
    (folder / planted_at).symlink_to(outside)
    refused: list[bool] = []
    with pytest.raises(TargetUnavailable, match="unsafe path"):
        await DropFolderTarget(folder, lambda: refused.append(True)).deliver(
            _delivery(), DOCUMENT, _record
        )
    assert outside.read_bytes() == b"untouched"
    assert refused == [True]


async def test_a_leftover_temporary_file_from_a_crash_is_written_anew(tmp_path: Path) -> None:
    (tmp_path / f".{FINAL_NAME}.tmp").write_bytes(b"half a docu")
    await DropFolderTarget(tmp_path).deliver(_delivery(), DOCUMENT, _record)
    assert [p.name for p in tmp_path.iterdir()] == [FINAL_NAME]
    assert (tmp_path / FINAL_NAME).read_bytes() == DOCUMENT.data
