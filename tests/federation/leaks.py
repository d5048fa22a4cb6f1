"""What counts as victim data in the leak test, and where it looks for it.

The secrets are taken from the decoded canonical messages, not written by hand: every string
field anywhere in a message (every Person's names, aliases, places and descriptions, notes,
summaries, places, warrant and document numbers, phones, escorts), less the fields that are
references and codes by design (case ids, sender references, country and province codes,
border gates). Each secret is looked for as written, case-folded, JSON-escaped, percent-
encoded (URLs), with its digits alone (a phone written without its spaces) and by its first
words (a long text cut short in a log line).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from adapters import adapter_for

REPO = Path(__file__).resolve().parents[2]
PARTNERS = REPO.parent / "shared" / "partners"
DEMO_SAMPLES = REPO / "gateway" / "demo" / "samples"
_FORMAT_BY_SUFFIX = {".json": "vn-police-json", ".xml": "kh-police-xml", ".csv": "hotline-111-csv"}

# Fields that hold references and codes, never a person or a free text.
NOT_SECRET_FIELDS = frozenset(
    {
        "case_id",
        "sender_reference",
        "in_reply_to",
        "call_id",
        "attachment_ids",
        "issuing_country",
        "nationality",
        "country",
        "province",
        "last_known_province",
        "border_gate",
    }
)
_CODE = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,8})?")
# Shorter strings (a sex code, an ethnicity like "Kinh") match unrelated text.
MIN_SECRET_CHARS = 5
# A long text is also looked for by its first characters: a log line may cut it short.
PREFIX_CHARS = 16
MIN_PHONE_DIGITS = 8


@dataclass(frozen=True)
class Sample:
    format_id: str
    name: str
    data: bytes


def samples() -> list[Sample]:
    """Every partner sample and every demo sample, each document once (the demo's are
    copies of the partners' today; a demo sample of its own would be sent too)."""
    found: list[Sample] = []
    seen: set[bytes] = set()
    paths = [(p.parent.parent.name, p) for p in sorted(PARTNERS.glob("*/samples/*"))]
    paths += [(_FORMAT_BY_SUFFIX[p.suffix], p) for p in sorted(DEMO_SAMPLES.iterdir())]
    for format_id, path in paths:
        data = path.read_bytes()
        if data not in seen:
            seen.add(data)
            found.append(Sample(format_id, path.name, data))
    return found


def string_fields(message: Message, path: str = "") -> Iterator[tuple[str, str]]:
    """(field path, value) of every non-empty string field in message, recursively."""
    for descriptor, value in message.ListFields():
        where = f"{path}.{descriptor.name}" if path else descriptor.name
        repeated = descriptor.is_repeated
        items = list(value) if repeated else [value]
        for item in items:
            if descriptor.type == FieldDescriptor.TYPE_MESSAGE:
                yield from string_fields(item, where)
            elif descriptor.type == FieldDescriptor.TYPE_STRING and item:
                yield where, item


def secrets_of(message: Message) -> set[str]:
    found: set[str] = set()
    for where, value in string_fields(message):
        if where.rsplit(".", 1)[-1] in NOT_SECRET_FIELDS or _CODE.fullmatch(value):
            continue
        if len(value.strip()) >= MIN_SECRET_CHARS:
            found.add(value.strip())
    return found


def secrets_of_documents(documents: Iterable[tuple[str, bytes]]) -> set[str]:
    """The secrets of every message decoded from (format id, document) pairs."""
    found: set[str] = set()
    for format_id, data in documents:
        for decoded in adapter_for(format_id).decode(data).messages:
            found |= secrets_of(decoded.message)
    return found


def forms_of(secret: str) -> set[str]:
    """The ways a secret could be written in a log, a label or a URL, case-folded."""
    forms = {secret, json.dumps(secret)[1:-1], quote(secret), quote(secret, safe="")}
    words = secret.split()
    if len(secret) > PREFIX_CHARS * 2 and len(words) > 2:
        forms.add(" ".join(words[:3]))
    digits = re.sub(r"\D", "", secret)
    if len(digits) >= MIN_PHONE_DIGITS and len(digits) >= len(secret.replace(" ", "")) - 1:
        forms.add(digits)
    return {form.casefold() for form in forms if len(form) >= MIN_SECRET_CHARS}


@dataclass
class Exposure:
    """Everything the test collected that must not hold victim data, by where it came from."""

    texts: dict[str, list[str]] = field(default_factory=dict)

    def add(self, where: str, text: str) -> None:
        self.texts.setdefault(where, []).append(text)

    def leaks(self, secrets: Iterable[str]) -> list[str]:
        """`where: secret (as form) in ...excerpt...` for each secret found anywhere."""
        wanted = {secret: forms_of(secret) for secret in secrets}
        found: list[str] = []
        for where, texts in self.texts.items():
            for text in texts:
                haystack = text.casefold()
                unquoted = unquote(text).casefold()
                for secret, forms in wanted.items():
                    for form in forms:
                        at = haystack.find(form)
                        if at < 0:
                            at = unquoted.find(form)
                        if at >= 0:
                            excerpt = text[max(0, at - 60) : at + len(form) + 20]
                            found.append(f"{where}: {secret!r} as {form!r} in ...{excerpt!r}")
                            break
        return found


_URL_ATTRIBUTE = re.compile(r'\b(?:href|src|action)="([^"]*)"')


def urls_in(page: str) -> list[str]:
    return _URL_ATTRIBUTE.findall(page)


def metric_labels(metrics: str) -> list[str]:
    """The label sets of every sample line of a /metrics page."""
    return [line[line.index("{") :] for line in metrics.splitlines() if "{" in line]


def audit_texts(rows: Iterable[tuple[str, Mapping[str, object]]]) -> list[str]:
    return [f"{subject} {json.dumps(detail, ensure_ascii=False)}" for subject, detail in rows]
