"""Coded values (kinds, actions, states, enums of blg.v1, gates, provinces) in words.

Design notes:
- A value is shown in the reader's language whatever the sender used: the table maps each
  stored or canonical value to an English msgid marked with N_(), and the reader's catalogue
  (shell.po) translates it, so translators work in one place with the usual gettext tools.
- Values are lower-case snake case: as stored in the DB (states, roles) or the canonical
  enum's name without its prefix (SEX_FEMALE -> "female"). Enum members and ints of a
  canonical enum are accepted too. An unknown value comes back as itself: a partner's new
  code is shown rather than hidden.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from google.protobuf.descriptor import EnumDescriptor

from gateway.console.i18n import N_
from gateway.wire.blg.v1 import canonical_pb2, envelope_pb2

LABELS: Mapping[str, Mapping[str, str]] = {
    "kind": {
        "wanted_person_notice": N_("Wanted person notice"),
        "victim_handover": N_("Victim handover"),
        "hotline_alert": N_("Hotline alert"),
        # A gateway control message (rotate), seen in the operator's outbox views.
        "key_announcement": N_("Key announcement"),
        # A person's acknowledgement sent back to a message's sender (section 13).
        "acknowledgement": N_("Acknowledgement"),
        # Sent back for a cancellation received (docs/PROTOCOL.md section 14).
        "cancellation_confirmation": N_("Cancellation confirmation"),
        # Audit checkpoints and their countersignatures (docs/PROTOCOL.md section 16).
        "audit_checkpoint": N_("Audit checkpoint"),
        "checkpoint_countersignature": N_("Checkpoint countersignature"),
    },
    "action": {
        "issue": N_("Issued"),
        "update": N_("Updated"),
        "cancel": N_("Cancelled"),
        "propose": N_("Proposed"),
        "accept": N_("Accepted"),
        "counter_propose": N_("Counter-proposed"),
        "reject": N_("Rejected"),
        "complete": N_("Completed"),
    },
    "state": {
        "queued": N_("Queued"),
        "sending": N_("Sending"),
        "delivered": N_("Delivered"),
        "rejected": N_("Refused by the recipient"),
        "expired": N_("Expired"),
        "dead": N_("Undeliverable"),
        "received": N_("Received"),
        "awaiting_approval": N_("Awaiting approval"),
        "approved": N_("Approved"),
        "withdrawn": N_("Withdrawn"),
        # Local deliveries to the node's own systems (local_delivery_state).
        "pending": N_("Waiting for the local system"),
        "delivering": N_("Handing to the local system"),
        "held": N_("Held for the operator"),
    },
    "handling": {
        "normal": N_("Normal"),
        "restricted": N_("Restricted"),
        "victim_protected": N_("Victim protected"),
    },
    "sex": {
        "male": N_("Male"),
        "female": N_("Female"),
        "unknown": N_("Unknown"),
    },
    "need": {
        "medical": N_("Medical care"),
        "psychological": N_("Psychological support"),
        "legal": N_("Legal assistance"),
        "interpreter": N_("Interpreter"),
    },
    "request": {
        "arrest": N_("Arrest"),
        "locate": N_("Locate"),
        "inform": N_("Inform"),
    },
    "channel": {
        "phone": N_("Phone"),
        "zalo": N_("Zalo"),
        "facebook": N_("Facebook"),
        "messaging": N_("Messaging app"),
        "walk_in": N_("In person"),
    },
    "category": {
        "suspected_trafficking": N_("Suspected trafficking"),
        "missing": N_("Missing person"),
        "rescue": N_("Rescue"),
        "information": N_("Information"),
    },
    "urgency": {
        "critical": N_("Critical"),
        "high": N_("High"),
        "normal": N_("Normal urgency"),
    },
    "role": {
        "victim": N_("Victim"),
        "suspect": N_("Suspect"),
    },
    "document_type": {
        "vn_citizen_id": N_("Vietnamese citizen identity card"),
        "kh_national_id": N_("Cambodian national identity card"),
        "passport": N_("Passport"),
        "other": N_("Other document"),
    },
    "user_role": {
        "officer": N_("Officer"),
        "supervisor": N_("Supervisor"),
        "operator": N_("Operator"),
        "admin": N_("Administrator"),
    },
    "border_gate": {
        "VN-LETHANH": N_("Le Thanh international border gate"),
        "KH-OYADAV": N_("O Yadav international border gate"),
        "VN-BOY": N_("Bo Y international border gate"),
    },
    "province": {
        "VN-30": N_("Gia Lai"),
        "VN-28": N_("Kon Tum"),
        "KH-16": N_("Ratanakiri"),
        "KH-19": N_("Stung Treng"),
    },
    "country": {
        "VN": N_("Viet Nam"),
        "KH": N_("Cambodia"),
        "LA": N_("Laos"),
    },
}

# The prefix of each canonical enum's names (blg.v1), stripped to get a label's value.
_ENUM_PREFIXES: Mapping[str, str] = {
    "kind": "message_kind_",
    "action": "action_",
    "handling": "handling_",
    "sex": "sex_",
    "need": "need_",
    "request": "request_",
    "channel": "channel_",
    "category": "category_",
    "urgency": "urgency_",
    "role": "role_",
    "document_type": "document_type_",
}


# Canonical enum fields read from a message are plain ints: named through their descriptor.
_ENUMS: Mapping[str, EnumDescriptor] = {
    "kind": envelope_pb2.MessageKind.DESCRIPTOR,
    "action": canonical_pb2.Action.DESCRIPTOR,
    "handling": canonical_pb2.Handling.DESCRIPTOR,
    "sex": canonical_pb2.Sex.DESCRIPTOR,
    "need": canonical_pb2.Need.DESCRIPTOR,
    "request": canonical_pb2.Request.DESCRIPTOR,
    "channel": canonical_pb2.Channel.DESCRIPTOR,
    "category": canonical_pb2.Category.DESCRIPTOR,
    "urgency": canonical_pb2.Urgency.DESCRIPTOR,
    "role": canonical_pb2.Role.DESCRIPTOR,
    "document_type": canonical_pb2.DocumentType.DESCRIPTOR,
}


def key(group: str, value: object) -> str:
    """The table key of `value`: "SEX_FEMALE", Sex.SEX_FEMALE (2) and "female" are one key."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, int) and not isinstance(value, bool) and group in _ENUMS:
        number = _ENUMS[group].values_by_number.get(value)
        value = number.name if number is not None else value
    text = str(value)
    if group in ("border_gate", "province", "country"):
        return text.upper()
    text = text.lower()
    prefix = _ENUM_PREFIXES.get(group)
    if prefix and text.startswith(prefix):
        text = text[len(prefix) :]
    return text


def msgid(group: str, value: object) -> str | None:
    """The English msgid of a coded value, or None when the value is unknown."""
    return LABELS.get(group, {}).get(key(group, value))


__all__ = ["LABELS", "key", "msgid"]
