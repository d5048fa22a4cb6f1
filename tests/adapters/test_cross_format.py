"""Every partner sample converts to every other format that can carry its kind, and back.

Both legs are held to the same standard: what a format could not hold is exactly what its
encoder's warnings say, and everything else arrives unchanged, with nothing added. When the
way back is refused (CannotEncode) because the way there narrowed a value the source format
requires, the refusal must name that narrowed field, and the way back is checked again with
the original value put back, so the rest of the message is still proven to survive.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message

from adapters import CannotEncode, adapter_for, registry
from adapters.common.loss import lost_fields
from gateway.wire import Kind, canonical

PARTNERS = Path(__file__).resolve().parents[3] / "shared" / "partners"
SAMPLES = sorted(PARTNERS.glob("*/samples/*"))


def _decode_all(format_id: str, data: bytes) -> list[canonical.Message]:
    result = adapter_for(format_id).decode(data)
    assert not result.rejected
    return [decoded.message for decoded in result.messages]


def _conversions() -> list[tuple[Path, str]]:
    """(sample, target format) for each format other than the sample's that can carry it."""
    pairs = []
    for sample in SAMPLES:
        source = sample.parent.parent.name
        kinds = {
            Kind(message.WhichOneof("body") or "")
            for message in _decode_all(source, sample.read_bytes())
        }
        for target_id, target in sorted(registry().items()):
            if target_id != source and kinds & set(target.kinds):
                pairs.append((sample, target_id))
    return pairs


# Fields a format fills from another one when the message lacks them, because the format
# requires them or has a single name field: (format, path of the field filled, where from).
DERIVED = [
    ("hotline-111-csv", r"hotline_alert\.call_id", r"sender_reference"),
    ("hotline-111-csv", r"(.*)\.name", r"\1.name_latin"),
    ("vn-police-json", r"(.*)\.name", r"\1.name_latin"),
]


def _field(message: Message, path: str) -> tuple[Any, str]:
    """The message holding the field at a warning's path (`a.b[1].c`), and its name."""
    *parents, name = path.split(".")
    holder: Any = message
    for part in parents:
        match = re.fullmatch(r"(\w+)(?:\[(\d+)\])?", part)
        assert match, path
        holder = getattr(holder, match[1])
        if match[2] is not None:
            holder = holder[int(match[2])]
    return holder, name


def _value(message: Message, path: str) -> Any:
    holder, name = _field(message, path)
    return getattr(holder, name)


def _restored(
    narrowed: canonical.Message, original: canonical.Message, path: str
) -> canonical.Message:
    """narrowed with the field at path set back to its value in original."""
    fixed = canonical.Message()
    fixed.CopyFrom(narrowed)
    holder, name = _field(fixed, path)
    setattr(holder, name, _value(original, path))
    return fixed


def _locations(problems: Any) -> set[str]:
    return {problem.location for problem in problems}


def _leg(before: canonical.Message, after: canonical.Message, fmt: str, warnings: set[str]) -> None:
    """One conversion: what did not survive is exactly what the warnings say, and the only
    fields added are those the format derives from another field."""
    assert _locations(lost_fields(before, after, fmt)) == warnings
    # Swapped roles: a field added (or changed) on the way shows up here.
    for path in _locations(lost_fields(after, before, fmt)) - warnings:
        origins = [
            re.sub(pattern, origin, path)
            for derives, pattern, origin in DERIVED
            if derives == fmt and re.fullmatch(pattern, path)
        ]
        assert origins, f"{fmt} added {path}"
        assert _value(after, path) in [_value(before, origin) for origin in origins], path


def test_there_are_samples_of_every_partner_format() -> None:
    assert {path.parent.parent.name for path in SAMPLES} == {
        "vn-police-json",
        "kh-police-xml",
        "hotline-111-csv",
    }


@pytest.mark.parametrize(
    ("sample", "target_id"),
    _conversions(),
    ids=lambda value: value.name if isinstance(value, Path) else str(value),
)
def test_a_sample_converts_to_another_format_and_back_losing_only_what_is_reported(
    sample: Path, target_id: str
) -> None:
    source = sample.parent.parent.name
    target = adapter_for(target_id)
    converted = 0
    for message in _decode_all(source, sample.read_bytes()):
        if Kind(message.WhichOneof("body") or "") not in target.kinds:
            continue
        converted += 1
        encoded = target.encode(message)
        [there] = _decode_all(target_id, encoded.data)
        reported = _locations(encoded.warnings)
        _leg(message, there, target_id, reported)

        refused: str | None = None
        try:
            back = adapter_for(source).encode(there)
        except CannotEncode as refusal:
            refused = refusal.problem.location
        if refused is not None:
            # Only a value the way there narrowed (Zalo became "messaging" in kh-police-xml,
            # which the hotline export has no word for) may stop the way back; with the
            # original value put back, the rest must make the way back.
            assert refused in reported, refused
            there = _restored(there, message, refused)
            reported -= {refused}
            back = adapter_for(source).encode(there)
        [again] = _decode_all(source, back.data)
        reported_back = _locations(back.warnings)
        _leg(there, again, source, reported_back)
        # And end to end: nothing lost that neither leg reported.
        assert again.WhichOneof("body") == message.WhichOneof("body")
        assert _locations(lost_fields(message, again, source)) <= reported | reported_back
    assert converted
