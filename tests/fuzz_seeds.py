"""Seed corpora and structure-aware mutations for fuzzing the adapters' decoders.

The first atheris run found nothing by random mutation of the partner samples; both crash
types (RecursionError from deep nesting, ValueError from a 4,301-digit integer) appeared only
once edge inputs were in the corpus. This module is the one place those seeds live, for the
property tests in `make test` (tests/adapters/test_decoder_fuzz.py) and for the long fuzz run
(which imports `seeds`, `mutate` and `MUTATIONS`):

- `samples(format_id)`: the partner samples of ../shared/partners (canonical-json gets the
  vn-police-json samples converted), each a valid document.
- `edge_inputs(format_id)`: named documents at and past every bound: deep nesting, numbers of
  4,301 digits, fields of megabytes, NUL bytes, millions of elements, rows or fields, lone
  surrogates, formula cells, entity declarations. Each is a valid sample with one part
  replaced where possible, so the decoder gets past its first checks.
- `mutate(data, rng)`: one structure-aware mutation (a value replaced by an edge
  token, a chunk duplicated or cut, a NUL spliced in) with a caller-seeded random.Random.

Nothing here imports a test framework (only the adapters), so a fuzz driver can use it as it
is: `from tests.fuzz_seeds import seeds, mutate`.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

from adapters import adapter_for
from adapters.canonical_json import ADAPTER as CANONICAL
from adapters.hotline_111_csv.table import read_rows

PARTNERS = Path(__file__).resolve().parents[2] / "shared" / "partners"
FORMAT_IDS = ("vn-police-json", "kh-police-xml", "hotline-111-csv", "canonical-json")
_SAMPLE_FOLDERS = {
    "vn-police-json": "vn-police-json",
    "kh-police-xml": "kh-police-xml",
    "hotline-111-csv": "hotline-111-csv",
}

# Python refuses to convert integers longer than this many digits (sys.int_info).
INT_DIGIT_LIMIT = 4300
LONG_NUMBER = "1" * (INT_DIGIT_LIMIT + 1)
HUGE_TEXT = "x" * (2 * 1024 * 1024)
LONG_TEXT = "y" * 100_000
FORMULAS = ("=1+2", "+84 90", "-2+3", "@SUM(A1)", "\t=cmd", "\r=cmd")


@cache
def samples(format_id: str) -> tuple[bytes, ...]:
    """The partner samples of a format (valid documents)."""
    if format_id == "canonical-json":
        vn = adapter_for("vn-police-json")
        return tuple(
            CANONICAL.encode(vn.decode(sample).messages[0].message).data
            for sample in samples("vn-police-json")
        )
    folder = PARTNERS / _SAMPLE_FOLDERS[format_id] / "samples"
    return tuple(path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file())


def _json_edges(sample: bytes) -> dict[str, bytes]:
    document = json.loads(sample.decode("utf-8-sig"))
    first_key = next(iter(document))

    def with_value(raw: str) -> bytes:
        head = json.dumps({k: v for k, v in document.items() if k != first_key})
        return ("{" + json.dumps(first_key) + ": " + raw + ", " + head[1:]).encode()

    return {
        "deep_arrays": b"[" * 200_000 + b"]" * 200_000,
        "deep_objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        "deep_inside_sample": with_value("[" * 5_000 + "]" * 5_000),
        "nesting_just_past_bound": with_value("[" * 40 + "]" * 40),
        "long_integer": with_value(LONG_NUMBER),
        "long_negative_integer": with_value("-" + LONG_NUMBER),
        "long_fraction": with_value("0." + LONG_NUMBER),
        "long_exponent": with_value("1e" + LONG_NUMBER),
        "long_integer_top": LONG_NUMBER.encode(),
        "huge_string": with_value(json.dumps(HUGE_TEXT)),
        "long_string": with_value(json.dumps(LONG_TEXT)),
        "long_key": with_value("1").replace(
            json.dumps(first_key).encode(), b'"' + b"k" * 70_000 + b'"', 1
        ),
        "many_values": with_value("[" + ",".join(["0"] * 200_000) + "]"),
        "nul_escape": with_value('"a\\u0000b"'),
        "nul_bytes": sample[:10] + b"\x00" * 100 + sample[10:],
        "lone_surrogate": with_value('"\\ud800"'),
        "not_utf8": b"\xff\xfe" + sample,
        "empty": b"",
    }


def _xml_edges(sample: bytes) -> dict[str, bytes]:
    close = sample.rindex(b"</")

    def inside(raw: bytes) -> bytes:
        return sample[:close] + raw + sample[close:]

    return {
        "ten_mb_empty_elements": inside(b"<a/>" * 2_500_000),
        "elements_past_bound_under_size": inside(b"<a/>" * 250_000),
        "deep_elements": inside(b"<a>" * 100_000 + b"</a>" * 100_000),
        "huge_text": inside(b"<a>" + HUGE_TEXT.encode() + b"</a>"),
        "long_text": inside(b"<a>" + LONG_TEXT.encode() + b"</a>"),
        "long_attribute": inside(b'<a b="' + LONG_TEXT.encode() + b'"/>'),
        "many_attributes": inside(b"<a " + b" ".join(b'a%d="1"' % i for i in range(5_000)) + b"/>"),
        "long_number_text": inside(LONG_NUMBER.encode()),
        "nul_bytes": sample[:40] + b"\x00" + sample[40:],
        "nul_reference": inside(b"<a>&#0;</a>"),
        "entity_bomb": b'<!DOCTYPE a [<!ENTITY x "xxxxxxxx">]>' + sample,
        "not_utf8": sample.replace(b"utf-8", b"latin-1", 1) + b"\xe9",
        "empty": b"",
    }


def csv_cell(value: str) -> bytes:
    """Quoted as the spec says (and no more: a formula stays as a hostile export has it)."""
    if any(c in value for c in ';"\r\n'):
        value = '"' + value.replace('"', '""') + '"'
    return value.encode()


def _csv_edges(sample: bytes) -> dict[str, bytes]:
    rows = read_rows(sample.decode("utf-8-sig"))
    header = b";".join(csv_cell(field.text) for field in rows[0].fields)
    cells = [csv_cell(field.text) for field in rows[1].fields]

    def row_with(index: int, value: bytes) -> bytes:
        changed = list(cells)
        changed[index] = value
        return header + b"\r\n" + b";".join(changed) + b"\r\n"

    return {
        "long_call_id": row_with(0, LONG_NUMBER.encode()),
        "long_year": row_with(11, LONG_NUMBER.encode()),
        "huge_field": row_with(7, HUGE_TEXT.encode()),
        "long_field": row_with(7, LONG_TEXT.encode()),
        "many_fields": header + b"\r\n" + b";" * 2_000_000,
        "many_rows": header + b"\r\n" + b"\n" * 2_000_000 + b";" * 12 + b"\r\n",
        "unclosed_quote": row_with(7, b'"' + LONG_TEXT.encode()),
        "nul_bytes": sample[:20] + b"\x00" + sample[20:],
        **{
            f"formula_{index}": row_with(7, csv_cell(formula))
            for index, formula in enumerate(FORMULAS)
        },
        "cp1258": header + b"\r\n" + b"\xd2" * 100,
        "empty": b"",
    }


_EDGES: dict[str, Callable[[bytes], dict[str, bytes]]] = {
    "vn-police-json": _json_edges,
    "canonical-json": _json_edges,
    "kh-police-xml": _xml_edges,
    "hotline-111-csv": _csv_edges,
}


@cache
def edge_inputs(format_id: str) -> dict[str, bytes]:
    """Named documents at and past the decoder's bounds, built on the first sample."""
    return _EDGES[format_id](samples(format_id)[0])


def seeds(format_id: str) -> list[bytes]:
    """Samples and edge inputs: the corpus a fuzz run of this format starts from."""
    return [*samples(format_id), *edge_inputs(format_id).values()]


EDGE_TOKENS: tuple[bytes, ...] = (
    LONG_NUMBER.encode(),
    b"-" + LONG_NUMBER.encode(),
    b"[" * 2_000,
    b"{" * 2_000,
    b"<a>" * 2_000,
    b"\x00",
    b"\\u0000",
    b"\\ud800",
    b'"' + LONG_TEXT.encode() + b'"',
    b"=HYPERLINK(1)",
    b";" * 500,
    b"&#0;",
    b"<!DOCTYPE a>",
    b"\xff",
)
_VALUE = re.compile(rb'"[^"\\]*"|-?[0-9]+|>[^<]+<|;[^;\r\n]*')


def _replace_value(data: bytes, rng: random.Random) -> bytes:
    # The first value after a random offset: listing every value of a 10 MB edge input first
    # would make each mutation cost as much as a decode.
    match = _VALUE.search(data, rng.randrange(len(data) + 1))
    if match is None:
        return data + rng.choice(EDGE_TOKENS)
    return data[: match.start()] + rng.choice(EDGE_TOKENS) + data[match.end() :]


def _duplicate(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.randrange(1, 200))
    return data[:end] + data[start:end] * rng.randrange(1, 50) + data[end:]


def _cut(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randrange(1, 100) :]


def _splice(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.choice(EDGE_TOKENS) + data[at:]


def _flip(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    at = rng.randrange(len(data))
    return data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]


MUTATIONS: tuple[Callable[[bytes, random.Random], bytes], ...] = (
    _replace_value,
    _duplicate,
    _cut,
    _splice,
    _flip,
)


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One structure-aware mutation of data, chosen with rng."""
    return rng.choice(MUTATIONS)(data, rng)
