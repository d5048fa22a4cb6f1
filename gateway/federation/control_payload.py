"""The first checks of every control message (docs/PROTOCOL.md sections 12 to 14): the sealed
payload parses as the kind's message and names the version this node reads.

Each kind refuses with its own reason code (announcement_malformed, acknowledgement_malformed,
confirmation_malformed), the detail naming the field; the kind's own checks follow in its
module (announcements.py, acknowledgements.py, cancellation.py).
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from google.protobuf.descriptor import Descriptor
from google.protobuf.message import DecodeError

from gateway.crypto import EnvelopeRejected, RejectReason
from gateway.crypto.envelope import OpenedEnvelope


class _Versioned(Protocol):
    """A control message: every one carries its format version in field 1."""

    @property
    def DESCRIPTOR(self) -> Descriptor: ...  # noqa: N802 (protobuf's name)

    @property
    def version(self) -> int: ...

    def ParseFromString(self, serialized: bytes) -> int: ...  # noqa: N802 (protobuf's name)


M = TypeVar("M", bound=_Versioned)


def parse_control(opened: OpenedEnvelope, message: M, *, version: int, reason: RejectReason) -> M:
    """`message` parsed from the opened envelope's payload, if it names `version`; raises
    EnvelopeRejected with `reason` otherwise."""
    try:
        message.ParseFromString(opened.payload.message)
    except DecodeError:
        raise EnvelopeRejected(reason, f"message is not a {message.DESCRIPTOR.full_name}") from None
    if message.version != version:
        raise EnvelopeRejected(reason, f"version: expected {version}, got {message.version}")
    return message
