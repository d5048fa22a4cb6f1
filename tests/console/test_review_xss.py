"""Hostile text from a peer, in every text field of every kind, on every console page.

A peer's gateway (or a local system through the API) may put anything in a message's
strings: markup, event handlers, `javascript:` URLs, bidi overrides, 10,000 characters. The
messages here are the partner samples with EVERY string field of the canonical message
(names, notes, places, warrant numbers, reasons, codes) replaced by such text, sealed by the
peer and stored as received. Each page that shows them must answer 200, hold no element or
attribute that the text put there, and keep a bidi override inside the value it came with.
"""

from __future__ import annotations

import uuid
from html.parser import HTMLParser
from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from adapters import adapter_for
from gateway.console import Role
from gateway.console.bidi import BIDI_CLOSERS, BIDI_OPENERS, closed
from gateway.wire import canonical
from tests.console.cases_support import PARTNERS, receive
from tests.console.conftest import ConsoleHarness

HOSTILE = (
    '<script>alert(1)</script>"><img src=x onerror=alert(1)>'
    "<a href='javascript:alert(1)'>x</a>{{7*7}}\u202eevil"
)
LONG = "W" * 10_000
# Kept as sent: identifiers the gateway itself makes, used to link the message to its case.
_KEEP = {"case_id", "in_reply_to"}
_SAMPLES = {
    "victim_handover": ("kh-police-xml", "handover.xml"),
    "wanted_person_notice": ("kh-police-xml", "wanted.xml"),
    "hotline_alert": ("kh-police-xml", "alert.xml"),
}


def poisoned(message: Message, value: str) -> None:
    """Every string field set (and every repeated string extended) with value, throughout."""
    for field in message.DESCRIPTOR.fields:
        repeated = field.is_repeated
        if field.type == FieldDescriptor.TYPE_STRING and field.name not in _KEEP:
            if repeated:
                getattr(message, field.name).append(value)
            else:
                setattr(message, field.name, value)
        elif (
            field.type == FieldDescriptor.TYPE_MESSAGE
            and field.message_type is not None
            and not field.message_type.GetOptions().map_entry
        ):
            if repeated:
                for item in getattr(message, field.name):
                    poisoned(item, value)
            elif message.HasField(field.name):
                poisoned(getattr(message, field.name), value)


def sample(kind: str) -> canonical.Message:
    partner, name = _SAMPLES[kind]
    document = (Path(PARTNERS) / partner / "samples" / name).read_bytes()
    [decoded] = adapter_for(partner).decode(document).messages
    return decoded.message


class _Injected(HTMLParser):
    """What a page holds that only injected text could have put there."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "img", "iframe", "object", "embed"}:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag}[{name}]")
            if name in {"href", "src", "action"} and (value or "").lower().startswith(
                "javascript:"
            ):
                self.found.append(f"{tag}[{name}={value}]")


def injected(page: str) -> list[str]:
    parser = _Injected()
    parser.feed(page)
    return parser.found


@pytest.mark.parametrize("value", [HOSTILE, LONG, HOSTILE + LONG], ids=["markup", "long", "both"])
@pytest.mark.parametrize("kind", list(_SAMPLES))
async def test_hostile_text_from_a_peer_is_shown_as_text(
    console: ConsoleHarness, kind: str, value: str
) -> None:
    message = sample(kind)
    poisoned(message, value)
    case = uuid.uuid4()
    await receive(console, message, case)
    await console.sign_in(Role.SUPERVISOR)
    for path in ("/console/cases", f"/console/cases/{case}", f"/console/cases?kind={kind}"):
        answer = await console.client.get(path)
        page = await answer.text()
        assert (path, answer.status, injected(page)) == (path, 200, [])
        assert "<script>alert" not in page
    case_page = await (await console.client.get(f"/console/cases/{case}")).text()
    if value != LONG:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in case_page
        # The override opened by the value is closed right after it: it cannot reverse
        # what the page shows after the value (the Latin name, dates, the next field).
        after_override = value.split("\u202e", 1)[1]
        assert f"\u202e{after_override}\u202c" in case_page
        assert f"\u202e{after_override}<" not in case_page


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("", ""),
        ("\u202eevil", "\u202eevil\u202c"),
        ("\u2067a\u202bb", "\u2067a\u202bb\u202c\u2069"),
        ("\u202ea\u202c", "\u202ea\u202c"),
        # A closer with nothing open closes nothing of the page's: it is left as it is.
        ("a\u2069b\u202c", "a\u2069b\u202c"),
        # An isolate's end closes the embeddings opened inside it.
        ("\u2066\u202ea\u2069\u202b", "\u2066\u202ea\u2069\u202b\u202c"),
    ],
)
def test_bidi_controls_are_closed_at_the_end_of_a_value(text: str, expected: str) -> None:
    assert closed(text) == expected
    assert set(BIDI_OPENERS) & set(BIDI_CLOSERS) == set()
