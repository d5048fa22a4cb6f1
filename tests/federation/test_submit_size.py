"""The size check at submit is exact: a message that seals to the limit goes, one byte more
does not, whether or not it already has a case id (a new case's id is added after the check)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import cast

import pytest

from gateway.crypto import seal
from gateway.federation.outgoing import Dispatcher, SubmissionRefused
from gateway.policy import PeerRoute, RoutePolicy
from gateway.store import Store
from gateway.wire import Kind, canonical, envelope, uuid7
from tests.crypto.support import T0, make_pair
from tests.federation.harness import alert

PEER = "kh-ratanakiri-police"
NOW = T0 + timedelta(days=1)
TTL = timedelta(days=7)


def _dispatcher(limit: int) -> Dispatcher:
    return Dispatcher(
        keyring=make_pair().police,
        store=cast(Store, None),  # check() never touches the store
        sendable_kinds={PEER: frozenset({"hotline_alert"})},
        policy=RoutePolicy({PEER: PeerRoute("KH")}),
        message_ttl=TTL,
        clock=lambda: NOW,
        max_envelope_bytes=limit,
    )


def _alert(case_id: str, summary: str) -> canonical.Message:
    message = alert("TB-1", case_id)
    message.hotline_alert.summary = summary
    # Fixed, so that every copy has the same length (now()'s nanoseconds vary in varint size).
    message.issued_at.FromDatetime(datetime(2026, 11, 2, 3, 4, 5))
    return message


def _sealed_size(case_id: str, summary: str) -> int:
    message = _alert(case_id, summary)
    message.case_id = case_id or str(uuid.uuid4())
    sealed = seal(
        make_pair().police,
        recipient=PEER,
        kind=Kind.HOTLINE_ALERT,
        case_id=uuid.UUID(message.case_id),
        message_id=uuid7(),
        payload=envelope.SealedPayload(message=message.SerializeToString()),
        created_at=NOW,
        expires_at=NOW + TTL,
    )
    return len(sealed.data)


@pytest.mark.parametrize("case_id", ["", "0193f0c2-7d4e-7abc-8def-0123456789ab"])
@pytest.mark.parametrize("summary_length", [10, 5_000, 100_000])
def test_the_limit_is_exact(case_id: str, summary_length: int) -> None:
    summary = "x" * summary_length
    size = _sealed_size(case_id, summary)
    assert _dispatcher(size).check(_alert(case_id, summary), [PEER]) == Kind.HOTLINE_ALERT
    with pytest.raises(SubmissionRefused) as refused:
        _dispatcher(size - 1).check(_alert(case_id, summary), [PEER])
    assert (refused.value.code, refused.value.field) == ("message_too_large", "body")
    assert f"would be {size} bytes" in refused.value.message
