"""Writing a delivered message's attachments beside its file: whole files only, crash-safe.

The reader here hands out fixed plaintext (its checks are AttachmentReader's, tested in
tests/api); what is tested is the writing: leftovers of a crash, a redelivery, a planted
symlink, and a stream not readable yet, in a table.
"""

from __future__ import annotations

import io
import os
import stat
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from gateway.attachments_read import (
    AttachmentReader,
    AttachmentReadError,
    VerifiedAttachment,
    info_of,
)
from gateway.delivery.delivered_attachments import (
    AttachmentNotWritten,
    attachments_folder,
    write_attachments,
)
from gateway.ops.private_files import UnsafePath
from gateway.wire import envelope

CONTENT = {"a1": b"\xff\xd8\xff photo" * 1000, "a2": b"%PDF- scan" * 5000}
KEYS = [envelope.AttachmentKey(attachment_id=aid, media_type="image/jpeg") for aid in CONTENT]


class FixedReader:
    """Plaintext per id; ids in `unavailable` answer 409 as a stream still arriving, and a2
    502 when corrupt."""

    def __init__(self, unavailable: frozenset[str] = frozenset(), *, corrupt: bool = False) -> None:
        self.unavailable = unavailable
        self.corrupt = corrupt

    async def verify(
        self, sender: str, message_id: uuid.UUID, key: envelope.AttachmentKey
    ) -> VerifiedAttachment:
        if key.attachment_id in self.unavailable:
            raise AttachmentReadError(409, "attachment_unavailable", "later")
        if self.corrupt and key.attachment_id == "a2":
            raise AttachmentReadError(502, "attachment_corrupt", "not what the envelope names")
        return VerifiedAttachment(info_of(key), io.BytesIO(CONTENT[key.attachment_id]))


def _nothing(folder: Path) -> None:
    del folder


def _leftover_temporary(folder: Path) -> None:
    folder.mkdir(mode=0o700)
    (folder / ".a1.tmp").write_bytes(b"half a ph")


def _written_before(folder: Path) -> None:
    folder.mkdir(mode=0o700)
    (folder / "a1").write_bytes(CONTENT["a1"])
    (folder / ".a2.tmp").write_bytes(b"%PDF- sc")


CASES: dict[str, Callable[[Path], None]] = {
    "fresh": _nothing,
    "crash_mid_file": _leftover_temporary,
    "crash_between_files": _written_before,
}


@pytest.mark.parametrize("case", CASES)
async def test_each_attachment_is_written_whole_once(case: str, tmp_path: Path) -> None:
    message_file = tmp_path / "victim_handover-vn-gialai-blo-1.xml"
    folder = attachments_folder(message_file)
    CASES[case](folder)
    reader = cast(AttachmentReader, FixedReader())
    written = await write_attachments(
        reader, message_file, sender="vn-gialai-blo", message_id=uuid.uuid4(), keys=KEYS
    )
    assert written == 2
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == CONTENT
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}
    assert not message_file.exists()  # the caller writes the message last


async def test_refusals_leave_the_delivery_for_later(tmp_path: Path) -> None:
    message_file = tmp_path / "m.xml"
    # case: (reader, keys, reason, final: held aside rather than retried)
    refusals: dict[str, tuple[Any, list[envelope.AttachmentKey], str, bool]] = {
        "not_all_here": (FixedReader(frozenset({"a2"})), KEYS, "attachment_unavailable", False),
        "corrupt": (FixedReader(corrupt=True), KEYS, "attachment_corrupt", True),
        "bad_id": (
            FixedReader(),
            [envelope.AttachmentKey(attachment_id="..")],
            "attachment_id_unusable",
            True,
        ),
    }
    for case, (reader, keys, reason, final) in refusals.items():
        with pytest.raises(AttachmentNotWritten) as refused:
            await write_attachments(
                reader, message_file, sender="p", message_id=uuid.uuid4(), keys=keys
            )
        assert (refused.value.reason, refused.value.final) == (reason, final), case
    folder = attachments_folder(message_file)
    # a1 is whole; a2 has no name at all (nothing half-written under a final name).
    assert sorted(p.name for p in folder.iterdir()) == ["a1"]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    planted = tmp_path / "p.xml"
    os.symlink(outside, attachments_folder(planted))
    with pytest.raises(UnsafePath):
        await write_attachments(
            cast(AttachmentReader, FixedReader()),
            planted,
            sender="p",
            message_id=uuid.uuid4(),
            keys=KEYS,
        )
    assert not list(outside.iterdir())
