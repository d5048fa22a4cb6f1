"""Free-text identifiers of a submitted message, made safe to index, in one place.

A local system's own reference (`so_hieu`, `ref`, a hotline call id) becomes a key: it is
looked up in and written to `case_references` (a btree primary key), kept on the outbox row
and shown to operators. Before this module, whatever bytes an adapter produced went there
unchanged, and three things went wrong: a reference of a few thousand bytes made
PostgreSQL refuse the index insert (a 500 on the API, and an outgoing folder that retried the
same file forever); a NUL made PostgreSQL refuse the text outright; and a reference copied
with an invisible zero-width space opened a new case instead of joining its notice's.

Every door (API, drop folder, CLI, console) reaches the Dispatcher, and the Dispatcher calls
`normalise_identifiers` before anything is looked up or written. Per class of character:
- Unicode is brought to NFC and surrounding white space is removed, as the adapters already
  do for text (adapters.common.text.nfc): a decomposed Vietnamese reference and a composed
  one are the same reference.
- Format characters (Unicode category Cf: zero-width space, joiners, BOM, soft hyphen,
  direction marks) are removed silently. They are invisible, carry no meaning in a reference
  number, and arrive by copy and paste from word processors and chat apps; an officer cannot
  see them, so refusing would be a riddle, and keeping them would silently split one case
  into two. Removed, `TB-1` and `TB-1<ZWSP>` join the same case.
- Control characters (category Cc, NUL included) and line or paragraph separators are
  refused, naming the field: unlike a zero-width space they are not a copy-and-paste accident
  but a broken export, and guessing what was meant would risk joining the wrong case.
- Length is bounded at MAX_IDENTIFIER_CHARS characters and MAX_IDENTIFIER_BYTES bytes of
  UTF-8, far below PostgreSQL's btree entry limit (about 2,700 bytes) even together with the
  kind in the same key; longer is refused, since cutting would make different references
  equal. Real references are a few dozen characters.
- `case_id` is a UUID in any form Python reads (upper case, `urn:uuid:`, braces) and is
  rewritten to the canonical lower-case hyphenated form: the peer compares the payload's
  case_id with the header's canonical text, so any other spelling was accepted here and then
  refused there as `payload_mismatch`.

Refusals never quote the value (it may be a victim's data).
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from gateway.wire import canonical

MAX_IDENTIFIER_CHARS = 128
MAX_IDENTIFIER_BYTES = 512
_REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})
_REMOVED_CATEGORIES = frozenset({"Cf"})


class IdentifierInvalid(ValueError):  # noqa: N818 - a verdict on the caller's input
    """An identifier cannot be used; field names it, expected says what would do."""

    def __init__(self, field: str, expected: str) -> None:
        super().__init__(f"{field}: {expected}")
        self.field = field
        self.expected = expected


def normalise_identifier(field: str, text: str) -> str:
    """text as it is indexed: NFC, no format characters, trimmed; IdentifierInvalid if unfit."""
    if text.isascii() and text.isprintable():
        # The usual reference (TB-2026-0001): printable ASCII is already NFC and holds no
        # format, control or separator character, so only the trimming and the bounds apply;
        # this spares a per-character category lookup on every submission's hot path.
        result = text.strip()
        if text and not result:
            raise IdentifierInvalid(field, "expected visible characters, not only invisible ones")
        if len(result) > MAX_IDENTIFIER_CHARS:  # one byte a character: the byte bound holds
            raise _too_long(field)
        return result
    kept = "".join(
        char
        for char in unicodedata.normalize("NFC", text)
        if unicodedata.category(char) not in _REMOVED_CATEGORIES
    )
    # NFC again: removing a joiner can leave a sequence that composes further.
    result = unicodedata.normalize("NFC", kept).strip()
    if any(unicodedata.category(char) in _REFUSED_CATEGORIES for char in result):
        raise IdentifierInvalid(
            field, "expected text without control characters (NUL, tab, line breaks)"
        )
    if text and not result:
        raise IdentifierInvalid(field, "expected visible characters, not only invisible ones")
    if len(result) > MAX_IDENTIFIER_CHARS or len(result.encode()) > MAX_IDENTIFIER_BYTES:
        raise _too_long(field)
    return result


def _too_long(field: str) -> IdentifierInvalid:
    return IdentifierInvalid(
        field,
        f"expected at most {MAX_IDENTIFIER_CHARS} characters "
        f"({MAX_IDENTIFIER_BYTES} bytes of UTF-8)",
    )


def normalise_case_id(text: str) -> str:
    """The canonical form of a case id; '' stays ''."""
    if not text:
        return ""
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise IdentifierInvalid("case_id", "expected a UUID such as 0193f0c2-7d4e-...") from None


@dataclass(frozen=True)
class _Field:
    path: str
    get: Callable[[canonical.Message], str]
    put: Callable[[canonical.Message, str], None]


def _put_reference(message: canonical.Message, value: str) -> None:
    message.sender_reference = value


def _put_reply(message: canonical.Message, value: str) -> None:
    message.in_reply_to = value


def _put_call_id(message: canonical.Message, value: str) -> None:
    message.hotline_alert.call_id = value


IDENTIFIER_FIELDS = (
    _Field("sender_reference", lambda m: m.sender_reference, _put_reference),
    _Field("in_reply_to", lambda m: m.in_reply_to, _put_reply),
    _Field(
        "hotline_alert.call_id",
        lambda m: m.hotline_alert.call_id if m.HasField("hotline_alert") else "",
        _put_call_id,
    ),
)


def normalise_identifiers(message: canonical.Message) -> None:
    """Rewrite message's identifiers in place to their indexed form; IdentifierInvalid if unfit.

    Idempotent, so every door may call it again on its way to the queue."""
    message.case_id = normalise_case_id(message.case_id)
    for field in IDENTIFIER_FIELDS:
        value = field.get(message)
        if value:
            normalised = normalise_identifier(field.path, value)
            if normalised != value:
                field.put(message, normalised)
