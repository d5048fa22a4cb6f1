from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from gateway.wire import (
    ControlKind,
    Kind,
    canonical,
    envelope,
    envelope_kind_from_wire,
    is_uuid7,
    uuid7,
    uuid7_unix_ms,
)
from tools.gen_proto import DEFAULT_OUT, generate


def test_committed_generated_code_matches_proto_sources(tmp_path: Path) -> None:
    generate(tmp_path)
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {
        p.relative_to(DEFAULT_OUT): p.read_bytes()
        for p in (DEFAULT_OUT / "blg").rglob("*")
        if p.is_file() and p.suffix in {".py", ".pyi"}
    }
    assert sorted(fresh) == sorted(committed), "run `make proto`"
    stale = [str(name) for name, data in fresh.items() if committed[name] != data]
    assert not stale, f"generated code is stale, run `make proto`: {stale}"


def test_every_kind_maps_to_a_oneof_field_and_back() -> None:
    oneof = {f.name for f in canonical.Message.DESCRIPTOR.oneofs_by_name["body"].fields}
    assert {k.value for k in Kind} == oneof
    for kind in Kind:
        assert Kind.from_wire(kind.wire) is kind
    control = {k.wire for k in ControlKind}
    assert set(envelope.MessageKind.values()) - {k.wire for k in Kind} == {0} | control
    for control_kind in ControlKind:
        assert envelope_kind_from_wire(control_kind.wire) is control_kind
    with pytest.raises(ValueError, match="unknown message kind"):
        Kind.from_wire(99)


def test_uuid7_carries_its_time_and_sorts_by_it() -> None:
    first = uuid7(1_700_000_000_000)
    second = uuid7(1_700_000_000_001)
    assert is_uuid7(first)
    assert uuid7_unix_ms(first) == 1_700_000_000_000
    assert first.bytes < second.bytes
    assert not is_uuid7(uuid.uuid4())
    with pytest.raises(ValueError, match="out of range"):
        uuid7(1 << 48)
