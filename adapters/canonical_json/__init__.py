"""`canonical-json`: the canonical model itself in the protobuf JSON mapping.

For systems (and operators) that speak the canonical model directly, such as `gateway send`
and integration tests. A document is one blg.v1.Message object; field names may be
lowerCamelCase or the proto names, as the JSON mapping allows.

The JSON is read within MESSAGE_LIMITS first (adapters.common.bounded_json), so deep nesting
and over-long numbers are refused with the place before protobuf sees them. protobuf's own
ParseError text quotes the offending value (`Invalid enum value SOON`), so it is never shown:
the failing member is found again by parsing the document member by member, descending into
message-typed members, and the problem names its JSON pointer and what was expected there.
"""

from __future__ import annotations

import json

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message_factory import GetMessageClass

from adapters.base import Decoded, DecodeResult, DocumentInvalid, Encoded, Problem
from adapters.common import bounded_json
from adapters.common.limits import MESSAGE_LIMITS, check_size
from gateway.wire import Kind, canonical

_WELL_KNOWN = {
    "google.protobuf.Timestamp": "an RFC 3339 time such as 2026-11-21T15:31:00Z",
    "google.protobuf.Duration": "a duration such as 1.5s",
}
_WHOLE = "expected a JSON object in UTF-8 (blg.v1.Message)"


def _field(descriptor: Descriptor, key: str) -> FieldDescriptor | None:
    found = descriptor.fields_by_name.get(key)
    if found is not None:
        return found
    return next((f for f in descriptor.fields if f.json_name == key), None)


def _parses(descriptor: Descriptor, value: object) -> bool:
    if not isinstance(value, dict):
        return False
    try:
        json_format.ParseDict(value, GetMessageClass(descriptor)())
    except (json_format.ParseError, ValueError, TypeError, AttributeError, RecursionError):
        return False
    return True


def _expected(field: FieldDescriptor) -> str:
    if field.message_type is not None:
        name = field.message_type.full_name
        kind = _WELL_KNOWN.get(name, f"a {name} object")
    elif field.enum_type is not None:
        kind = f"a value name of {field.enum_type.full_name}"
    elif field.type == FieldDescriptor.TYPE_BOOL:
        kind = "true or false"
    elif field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
        kind = "a string"
    else:
        kind = "a number"
    if field.is_repeated:
        return f"expected a list, each item {kind}"
    return f"expected {kind}"


def _locate(descriptor: Descriptor, value: object, where: str) -> Problem:
    """The innermost member of value that does not parse as descriptor, and what it needs."""
    if not isinstance(value, dict):
        return Problem(where or "/", f"expected a {descriptor.full_name} object")
    for key, member in value.items():
        at = bounded_json.json_pointer(where, key)
        field = _field(descriptor, key)
        if field is None:
            return Problem(at, f"unknown member: expected a field of {descriptor.full_name}")
        if _parses(descriptor, {key: member}):
            continue
        inner = field.message_type
        if inner is not None and not inner.GetOptions().map_entry:
            well_known = inner.full_name.startswith("google.protobuf.")
            if field.is_repeated and isinstance(member, list):
                for index, item in enumerate(member):
                    if not _parses(inner, item):
                        item_at = bounded_json.json_pointer(at, index)
                        if well_known:
                            return Problem(item_at, _expected(field))
                        return _locate(inner, item, item_at)
            elif not well_known and isinstance(member, dict):
                return _locate(inner, member, at)
        return Problem(at, _expected(field))
    return Problem(where or "/", f"expected a valid {descriptor.full_name}")


class CanonicalJson:
    format_id = "canonical-json"
    media_type = "application/vnd.blg.canonical+json"
    kinds = frozenset(Kind)
    many_per_document = False

    def decode(self, data: bytes) -> DecodeResult:
        check_size(data, MESSAGE_LIMITS)
        try:
            text = data.decode("utf-8-sig")
            value = bounded_json.loads(text, MESSAGE_LIMITS)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise DocumentInvalid([Problem("/", _WHOLE)]) from None
        if not isinstance(value, dict):
            raise DocumentInvalid([Problem("/", _WHOLE)])
        message = canonical.Message()
        try:
            json_format.ParseDict(value, message)
        except (json_format.ParseError, ValueError, TypeError, AttributeError, RecursionError):
            raise DocumentInvalid([_locate(canonical.Message.DESCRIPTOR, value, "")]) from None
        return DecodeResult(messages=(Decoded(message),))

    def encode(self, message: canonical.Message) -> Encoded:
        text = json_format.MessageToJson(message, ensure_ascii=False, indent=2)
        return Encoded(text.encode("utf-8") + b"\n")


ADAPTER = CanonicalJson()

__all__ = ["ADAPTER", "CanonicalJson"]
