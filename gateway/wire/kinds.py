"""The three message kinds and their names in each place they appear, and the control kinds.

A kind is named three ways: the snake_case word of configs and APIs
(`victim_handover`), the `MessageKind` enum of the envelope header, and the name of the
`Message.body` oneof field. One table keeps them together so they cannot drift apart.

A control kind (`ControlKind`) travels in the same envelope header field but seals no
`blg.v1.Message`: it is between gateways only (a key announcement), never reaches a local
system or a config's send/receive list, so it is a type of its own rather than a
fourth `Kind` that every message path would have to exclude.
"""

from __future__ import annotations

import enum

from gateway.wire.blg.v1 import envelope_pb2


class Kind(enum.StrEnum):
    """A message kind, valued by its config and API name (which is also the oneof name)."""

    WANTED_PERSON_NOTICE = "wanted_person_notice"
    VICTIM_HANDOVER = "victim_handover"
    HOTLINE_ALERT = "hotline_alert"

    @property
    def wire(self) -> envelope_pb2.MessageKind.ValueType:
        """The envelope header's enum value for this kind."""
        return _TO_WIRE[self]

    @classmethod
    def from_wire(cls, value: int) -> Kind:
        """The kind of an envelope header enum value; ValueError when unknown."""
        for kind, wire in _TO_WIRE.items():
            if wire == value:
                return kind
        raise ValueError(f"unknown message kind {value}")


_TO_WIRE: dict[Kind, envelope_pb2.MessageKind.ValueType] = {
    Kind.WANTED_PERSON_NOTICE: envelope_pb2.MESSAGE_KIND_WANTED_PERSON_NOTICE,
    Kind.VICTIM_HANDOVER: envelope_pb2.MESSAGE_KIND_VICTIM_HANDOVER,
    Kind.HOTLINE_ALERT: envelope_pb2.MESSAGE_KIND_HOTLINE_ALERT,
}


class ControlKind(enum.StrEnum):
    """A gateway-to-gateway control message kind (docs/PROTOCOL.md section 12)."""

    KEY_ANNOUNCEMENT = "key_announcement"
    ACKNOWLEDGEMENT = "acknowledgement"
    CANCELLATION_CONFIRMATION = "cancellation_confirmation"
    AUDIT_CHECKPOINT = "audit_checkpoint"
    CHECKPOINT_COUNTERSIGNATURE = "checkpoint_countersignature"

    @property
    def wire(self) -> envelope_pb2.MessageKind.ValueType:
        """The envelope header's enum value for this kind."""
        return _CONTROL_TO_WIRE[self]


_CONTROL_TO_WIRE: dict[ControlKind, envelope_pb2.MessageKind.ValueType] = {
    ControlKind.KEY_ANNOUNCEMENT: envelope_pb2.MESSAGE_KIND_KEY_ANNOUNCEMENT,
    ControlKind.ACKNOWLEDGEMENT: envelope_pb2.MESSAGE_KIND_ACKNOWLEDGEMENT,
    ControlKind.CANCELLATION_CONFIRMATION: envelope_pb2.MESSAGE_KIND_CANCELLATION_CONFIRMATION,
    ControlKind.AUDIT_CHECKPOINT: envelope_pb2.MESSAGE_KIND_AUDIT_CHECKPOINT,
    ControlKind.CHECKPOINT_COUNTERSIGNATURE: envelope_pb2.MESSAGE_KIND_CHECKPOINT_COUNTERSIGNATURE,
}


def envelope_kind_from_wire(value: int) -> Kind | ControlKind:
    """The message or control kind of an envelope header enum value; ValueError when unknown."""
    for kind, wire in _CONTROL_TO_WIRE.items():
        if wire == value:
            return kind
    return Kind.from_wire(value)
