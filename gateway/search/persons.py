"""Who a stored message names, as the index keeps them; and an entry's sealed plaintext.

Design notes:
- Pure (no I/O). Opening the envelope is done by the indexer on a worker thread
  (open_stored_message, the same reopen_stored / reopen_sent the case pages use).
- Indexed: a wanted notice's subject; each victim of a handover and each child travelling
  with one; each person a hotline alert names (victim or suspect). Never an escort officer,
  never a hotline caller: their names are not what anyone searches for cases by, and an
  index holding them would be one more place to leak them.
- The ordinal is the person's place in that list, stable for a given message: it is part
  of the entry's identity (the sealed entry's associated data, the unique constraint).
- The sealed plaintext is compact JSON of the secret fields only; ids, case, kind, peer,
  direction and time are columns (the database already holds them for the inbox/outbox).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from google.protobuf.message import DecodeError

from gateway.crypto import EnvelopeRejected, Keyring, reopen_sent, reopen_stored
from gateway.search.model import PersonRole, Sex
from gateway.search.names import document_number, fold
from gateway.wire import canonical

_SEX = {canonical.SEX_MALE: "M", canonical.SEX_FEMALE: "F"}
_HANDLING = {
    canonical.HANDLING_NORMAL: "normal",
    canonical.HANDLING_RESTRICTED: "restricted",
    canonical.HANDLING_VICTIM_PROTECTED: "victim_protected",
}


@dataclass(frozen=True, slots=True)
class NamedPerson:
    """The secret part of an IndexedPerson: what is sealed in search_entries."""

    role: PersonRole
    names: tuple[str, ...]
    folded: tuple[str, ...]
    sex: Sex
    birth_year: int | None
    birth_date: str
    document_numbers: tuple[str, ...]
    border_gate: str
    handling: str


def open_stored_message(
    keyring: Keyring, direction: str, data: bytes | None
) -> canonical.Message | None:
    """The canonical message of a stored envelope; None when retention deleted it or it does
    not open or parse (the indexer counts those, by number only). Blocking."""
    if data is None:
        return None
    try:
        opened = reopen_sent(keyring, data) if direction == "out" else reopen_stored(keyring, data)
        return canonical.Message.FromString(opened.payload.message)
    except (EnvelopeRejected, DecodeError):
        return None


def _birth_date(date: canonical.Date) -> str:
    if not date.year:
        return ""
    if not date.month:
        return f"{date.year:04d}"
    if not date.day:
        return f"{date.year:04d}-{date.month:02d}"
    return f"{date.year:04d}-{date.month:02d}-{date.day:02d}"


def _person(
    role: PersonRole, person: canonical.Person, gate: str, handling: str
) -> NamedPerson | None:
    written: list[str] = []
    for given in (person.name, person.name_latin, *person.aliases):
        name = " ".join(given.split())
        if name and name not in written:
            written.append(name)
    documents = tuple(
        dict.fromkeys(
            number
            for number in (document_number(doc.number) for doc in person.identity_documents)
            if number
        )
    )
    if not written and not documents:
        return None  # nothing anyone could find them by
    return NamedPerson(
        role=role,
        names=tuple(written),
        folded=tuple(fold(name) for name in written),
        sex=cast(Sex, _SEX.get(person.sex, "")),
        birth_year=person.birth_date.year or None,
        birth_date=_birth_date(person.birth_date),
        document_numbers=documents,
        border_gate=gate,
        handling=handling,
    )


def named_persons(message: canonical.Message) -> list[NamedPerson]:
    """The people a message is about, in a stable order (the ordinals)."""
    handling = _HANDLING.get(message.handling, "victim_protected")
    found: list[NamedPerson | None] = []
    body = message.WhichOneof("body")
    if body == "wanted_person_notice":
        found.append(_person("wanted", message.wanted_person_notice.subject, "", handling))
    elif body == "victim_handover":
        handover = message.victim_handover
        gate = handover.border_gate
        for victim in handover.victims:
            found.append(_person("victim", victim.person, gate, handling))
            found += [
                _person("child", child, gate, handling) for child in victim.accompanying_children
            ]
    elif body == "hotline_alert":
        for involved in message.hotline_alert.persons:
            role: PersonRole = (
                "hotline_suspect" if involved.role == canonical.ROLE_SUSPECT else "hotline_victim"
            )
            found.append(_person(role, involved.person, "", handling))
    return [person for person in found if person is not None]


def encode_person(person: NamedPerson) -> bytes:
    return json.dumps(
        {
            "r": person.role,
            "n": list(person.names),
            "f": list(person.folded),
            "s": person.sex,
            "y": person.birth_year,
            "b": person.birth_date,
            "d": list(person.document_numbers),
            "g": person.border_gate,
            "h": person.handling,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def decode_person(data: bytes) -> NamedPerson:
    """Raises ValueError (or KeyError/TypeError) on a malformed entry."""
    value: dict[str, Any] = json.loads(data)
    return NamedPerson(
        role=value["r"],
        names=tuple(str(name) for name in value["n"]),
        folded=tuple(str(name) for name in value["f"]),
        sex=value["s"],
        birth_year=None if value["y"] is None else int(value["y"]),
        birth_date=str(value["b"]),
        document_numbers=tuple(str(number) for number in value["d"]),
        border_gate=str(value["g"]),
        handling=str(value["h"]),
    )
