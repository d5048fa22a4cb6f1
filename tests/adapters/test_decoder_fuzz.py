"""Property-based fuzzing of every adapter's decoder, in the default test run.

Inputs are arbitrary bytes and structure-aware mutations of the seed corpus in
tests/fuzz_seeds.py (the partner samples plus edge inputs: deep nesting, 4,301-digit numbers,
huge fields, NULs, millions of elements); the property is the adapters' contract: a decoded
result, or DocumentInvalid (DocumentTooComplex included), and nothing else. A second property
plants a marker in a value and checks that no problem or warning repeats it. Examples are
bounded so the file runs in some tens of seconds; the long run (over a million inputs per
target) drives the same seeds and mutations from its own tool.
"""

from __future__ import annotations

import json
import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import DecodeResult, DocumentInvalid, Problem, adapter_for
from adapters.hotline_111_csv.table import read_rows
from gateway.wire import canonical
from tests import fuzz_seeds

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
FORMATS = pytest.mark.parametrize("format_id", fuzz_seeds.FORMAT_IDS)
MARKER = "Zq7MARKERvictim"


def _decode_within_contract(format_id: str, data: bytes) -> DecodeResult | DocumentInvalid:
    refused: DocumentInvalid | None
    try:
        result = adapter_for(format_id).decode(data)
    except DocumentInvalid as invalid:
        refused = invalid
    else:
        refused = None
    if refused is not None:
        assert refused.problems
        assert all(isinstance(p, Problem) for p in refused.problems)
        return refused
    for decoded in result.messages:
        assert isinstance(decoded.message, canonical.Message)
        decoded.message.SerializeToString()
    for record in result.rejected:
        assert record.problems
    return result


def _texts(outcome: DecodeResult | DocumentInvalid) -> list[str]:
    if isinstance(outcome, DocumentInvalid):
        return [str(p) for p in outcome.problems]
    return [str(p) for d in outcome.messages for p in d.warnings] + [
        line for r in outcome.rejected for line in r.lines()
    ]


@FORMATS
@FUZZ
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_decode_or_are_refused(format_id: str, data: bytes) -> None:
    _decode_within_contract(format_id, data)


@FORMATS
@FUZZ
@given(seed=st.integers(0, 2**32 - 1), rounds=st.integers(1, 4), data=st.data())
def test_mutated_seeds_decode_or_are_refused(
    format_id: str, seed: int, rounds: int, data: st.DataObject
) -> None:
    document = data.draw(st.sampled_from(fuzz_seeds.seeds(format_id)), label="seed document")
    rng = random.Random(seed)
    for _ in range(rounds):
        document = fuzz_seeds.mutate(document, rng)
    _decode_within_contract(format_id, document)


@pytest.mark.parametrize(
    ("format_id", "edge"),
    [(f, e) for f in fuzz_seeds.FORMAT_IDS for e in sorted(fuzz_seeds.edge_inputs(f))],
)
def test_every_edge_input_decodes_or_is_refused(format_id: str, edge: str) -> None:
    _decode_within_contract(format_id, fuzz_seeds.edge_inputs(format_id)[edge])


# ---------------------------------------------------------------------------------------------
# A value planted anywhere never comes back in a problem or warning

PLANTED = st.sampled_from(
    [
        MARKER,
        f"{MARKER} 0912345678",
        f"={MARKER}",
        f"{MARKER}\x00",
        f"99/99/{MARKER}",
    ]
)


def _json_leaves(value: object, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _json_leaves(item, (*path, key))]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in _json_leaves(item, (*path, i))]
    return [path]


def _plant_json(sample: bytes, rng: random.Random, planted: object) -> bytes:
    document = json.loads(sample.decode("utf-8-sig"))
    path = rng.choice(_json_leaves(document))
    holder = document
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = planted
    return json.dumps(document, ensure_ascii=rng.random() < 0.5).encode()


def _plant_xml(sample: bytes, rng: random.Random, planted: str) -> bytes:
    text = sample.decode("utf-8")
    spots = [m for m in re.finditer(r'>([^<]+)<|="([^"]*)"', text) if m.group().strip("<>")]
    spot = rng.choice(spots)
    escaped = planted.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    escaped = escaped.replace("\x00", "")
    replacement = f">{escaped}<" if spot.group().startswith(">") else f'="{escaped}"'
    return (text[: spot.start()] + replacement + text[spot.end() :]).encode()


def _plant_csv(sample: bytes, rng: random.Random, planted: str) -> bytes:
    rows = read_rows(sample.decode("utf-8-sig"))
    cells = [[f.text for f in row.fields] for row in rows if row.fields != []]
    line = rng.randrange(1, len(cells))
    cells[line][rng.randrange(len(cells[line]))] = planted.replace("\x00", "")
    return b"\r\n".join(b";".join(fuzz_seeds.csv_cell(c) for c in row) for row in cells)


@FORMATS
@FUZZ
@given(seed=st.integers(0, 2**32 - 1), planted=PLANTED, data=st.data())
def test_a_planted_value_never_appears_in_problems(
    format_id: str, seed: int, planted: str, data: st.DataObject
) -> None:
    rng = random.Random(seed)
    sample = data.draw(st.sampled_from(fuzz_seeds.samples(format_id)), label="sample")
    if format_id.endswith("json"):
        shape = data.draw(st.sampled_from(["text", "list", "object"]), label="shape")
        value: object = {"text": planted, "list": [planted], "object": {"x": planted}}[shape]
        document = _plant_json(sample, rng, value)
    elif format_id == "kh-police-xml":
        document = _plant_xml(sample, rng, planted)
    else:
        document = _plant_csv(sample, rng, planted)
    outcome = _decode_within_contract(format_id, document)
    for text in _texts(outcome):
        assert MARKER not in text, text
