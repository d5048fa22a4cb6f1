"""Coded values (kinds, actions, states, enums of blg.v1, gates, provinces) in words.

Design notes:
- A value is shown in the reader's language whatever the sender used: the table maps each
  stored or canonical value to an English msgid, and the reader's catalogue (shell.po)
  translates it with the group as its msgctxt, so translators work with the usual gettext
  tools. The context keeps a label apart from the same English elsewhere: the state
  "Received" and a form's "Received" (time) are different words in Vietnamese.
- Values are lower-case snake case: as stored in the DB (states, roles) or the canonical
  enum's name without its prefix (SEX_FEMALE -> "female"). Enum members and ints of a
  canonical enum are accepted too. An unknown value comes back as itself: a partner's new
  code is shown rather than hidden.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from google.protobuf.descriptor import EnumDescriptor

from gateway.wire.blg.v1 import canonical_pb2, envelope_pb2

LABELS: Mapping[str, Mapping[str, str]] = {
    "kind": {
        "wanted_person_notice": "Wanted person notice",
        "victim_handover": "Victim handover",
        "hotline_alert": "Hotline alert",
    },
    "action": {
        "issue": "Issued",
        "update": "Updated",
        "cancel": "Cancelled",
        "propose": "Proposed",
        "accept": "Accepted",
        "counter_propose": "Counter-proposed",
        "reject": "Rejected",
        "complete": "Completed",
    },
    "state": {
        "queued": "Queued",
        "sending": "Sending",
        "delivered": "Delivered",
        "rejected": "Refused by the recipient",
        "expired": "Expired",
        "dead": "Undeliverable",
        "received": "Received",
        "awaiting_approval": "Awaiting approval",
        "approved": "Approved",
        "withdrawn": "Withdrawn",
        # Local deliveries to the node's own systems (local_delivery_state).
        "pending": "Waiting for the local system",
        "delivering": "Handing to the local system",
        "held": "Held for the operator",
    },
    "handling": {
        "normal": "Normal",
        "restricted": "Restricted",
        "victim_protected": "Victim protected",
    },
    "sex": {
        "male": "Male",
        "female": "Female",
        "unknown": "Unknown",
    },
    "need": {
        "medical": "Medical care",
        "psychological": "Psychological support",
        "legal": "Legal assistance",
        "interpreter": "Interpreter",
    },
    "request": {
        "arrest": "Arrest",
        "locate": "Locate",
        "inform": "Inform",
    },
    "channel": {
        "phone": "Phone",
        "zalo": "Zalo",
        "facebook": "Facebook",
        "messaging": "Messaging app",
        "walk_in": "In person",
    },
    "category": {
        "suspected_trafficking": "Suspected trafficking",
        "missing": "Missing person",
        "rescue": "Rescue",
        "information": "Information",
    },
    "urgency": {
        "critical": "Critical",
        "high": "High",
        "normal": "Normal",
    },
    "role": {
        "victim": "Victim",
        "suspect": "Suspect",
    },
    "document_type": {
        "vn_citizen_id": "Vietnamese citizen identity card",
        "kh_national_id": "Cambodian national identity card",
        "passport": "Passport",
        "other": "Other document",
    },
    "user_role": {
        "officer": "Officer",
        "supervisor": "Supervisor",
        "operator": "Operator",
        "admin": "Administrator",
    },
    "border_gate": {
        "VN-LETHANH": "Le Thanh international border gate",
        "KH-OYADAV": "O Yadav international border gate",
        "VN-BOY": "Bo Y international border gate",
    },
    "province": {
        "VN-30": "Gia Lai",
        "VN-28": "Kon Tum",
        "KH-16": "Ratanakiri",
        "KH-19": "Stung Treng",
    },
    "country": {
        "VN": "Viet Nam",
        "KH": "Cambodia",
        "LA": "Laos",
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
