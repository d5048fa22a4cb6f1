"""docs/PROTOCOL.md names every reason code the gateway puts into a receipt: a second
implementation written from the document alone must be able to expect each one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.crypto import RejectReason

DOC = (Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md").read_text()
# The rows of the table "Envelope reason codes" in section 5: | `code` | set by |
LISTED = set(
    re.findall(
        r"^\| `([a-z_]+)` \|", DOC.split("**Envelope reason codes.**")[1].split("## 6.")[0], re.M
    )
)


@pytest.mark.parametrize("reason", list(RejectReason), ids=str)
def test_every_envelope_reason_code_is_in_the_protocol_document(reason: RejectReason) -> None:
    assert reason.value in LISTED


def test_the_document_lists_no_envelope_reason_code_the_gateway_lacks() -> None:
    assert {reason.value for reason in RejectReason} == LISTED
