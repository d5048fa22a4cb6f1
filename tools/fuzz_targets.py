"""What is fuzzed, what each target may raise, and the edge inputs every corpus starts from.

Shared by the property tests in `make test` (tests/fuzzing/) and the long runs of
tools/fuzz.py, so that both judge the same functions by the same rule: a target returns, or
raises one of its documented error types (with a reason code from the documented set where
the type carries one). Anything else is a crash.

The seeds matter more than the engine: the first atheris run of issue 7 found the 4,301-digit,
deep-nesting and NUL crashes only once such inputs were in the corpus. `edge_inputs()` holds
them, and every target starts from its valid samples plus those.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

from adapters import DocumentInvalid, registry
from gateway.config import ConfigError, load_config
from gateway.crypto import (
    EnvelopeLimits,
    EnvelopeRejected,
    Keyring,
    KeyValidity,
    OwnKeyPair,
    RejectReason,
    open_envelope,
)
from gateway.federation.batch import (
    BATCH_REFUSAL_CODES,
    BatchLimits,
    BatchRefused,
    parse_envelope_batch,
)
from gateway.wire import envelope
from tests import fuzz_seeds

# The valid node config of the loader's tests, and the key and TLS files it names.
from tests.config.test_loader import ENV, VALID_CONFIG, write_node

ROOT = Path(__file__).resolve().parents[1]
VECTORS_FILE = ROOT / "tests" / "vectors" / "envelope-v1.json"
BATCH_LIMITS = BatchLimits(max_batch_bytes=16 * 1024 * 1024)
REASONS = frozenset(reason.value for reason in RejectReason)


class Crash(AssertionError):  # noqa: N818 - what fuzzing calls it
    """A target broke its contract: an undocumented exception, or a documented one without a
    documented reason."""


@dataclass(frozen=True)
class Target:
    """One function under fuzzing."""

    name: str
    run: Callable[[bytes], object]
    # Raising one of these is a verdict, not a crash, as long as `judge` accepts it.
    expected: tuple[type[BaseException], ...]
    seeds: Callable[[], list[bytes]]
    judge: Callable[[BaseException], bool] = field(default=lambda _error: True)
    # Mutations are cut to this length: larger inputs only slow a target down (PyYAML reads a
    # config at some 100 KB/s) without reaching code the seeds do not already reach.
    max_len: int = 1 << 20

    def call(self, data: bytes) -> object:
        """Run on data; Crash when the target breaks its contract."""
        try:
            return self.run(data)
        except Crash:
            raise
        except self.expected as error:
            if not self.judge(error):
                raise Crash(f"{type(error).__name__} with an undocumented reason") from error
            return None
        except Exception as error:
            raise Crash(type(error).__name__) from error


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def edge_inputs() -> list[bytes]:
    """Inputs every corpus gets, whatever the format: the shapes that broke parsers before."""
    digits = b"9" * 4301
    nested_group = b"\x0b" * 20_000 + b"\x0c" * 20_000  # protobuf start/end group, deep
    nested_message = b""
    for _ in range(200):
        nested_message = _field(1, nested_message)
    return [
        b"",
        b"\x00",
        b"\x00" * 4096,
        b"\xff" * 64,
        digits,
        b"-" + digits,
        b"1e999999",
        b'{"a": ' + digits + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b"<a>" * 50_000 + b"</a>" * 50_000,
        b"<a/>" * 100_000,
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>',
        b"\xef\xbb\xbf",
        "\u200b\u202e\ufeff".encode(),
        b"a\x00b",
        b"x" * (1 << 20),
        b"\n" * 10_000,
        b'"' * 10_000,
        b"," * 10_000,
        nested_group,
        nested_message,
        _varint(10 << 3 | 2) + _varint(2**63),  # a length far past the end
        _field(1, b"x") * 10_000,  # many tiny envelopes
        _field(1, b""),  # one empty envelope
    ]


# --- envelope opening ----------------------------------------------------------------


@cache
def _vectors() -> dict[str, object]:
    loaded: dict[str, object] = json.loads(VECTORS_FILE.read_text())
    return loaded


def _own(name: str) -> OwnKeyPair:
    keys = _vectors()["keys"]
    assert isinstance(keys, dict)
    key = keys[name]
    return OwnKeyPair.from_secrets(
        key["key_id"],
        bytes.fromhex(key["ed25519_seed"]),
        bytes.fromhex(key["x25519_secret"]),
        KeyValidity(
            datetime.fromisoformat(key["valid_from"]), datetime.fromisoformat(key["valid_until"])
        ),
    )


@cache
def recipient_keyring() -> Keyring:
    """The vector's recipient, knowing the vector's sender."""
    return Keyring(
        "kh-ratanakiri-police", [_own("recipient")], {"vn-gialai-police": [_own("sender").public()]}
    )


def vector_envelope() -> bytes:
    section = _vectors()["envelope"]
    assert isinstance(section, dict)
    return bytes.fromhex(section["envelope"])


def vector_open_at() -> datetime:
    section = _vectors()["envelope"]
    assert isinstance(section, dict)
    return datetime.fromisoformat(section["open_at"])


def envelope_seeds() -> list[bytes]:
    valid = vector_envelope()
    rejections = _vectors()["rejections"]
    assert isinstance(rejections, list)
    seeds = [valid, valid[:-1], valid + b"\x00", valid[: len(valid) // 2]]
    seeds += [bytes.fromhex(item["envelope"]) for item in rejections if "envelope" in item]
    wire = envelope.Envelope.FromString(valid)
    seeds.append(envelope.Envelope(header=wire.header).SerializeToString())
    seeds.append(envelope.Envelope(header=wire.header, ciphertext=b"\x00" * 40).SerializeToString())
    return seeds + edge_inputs()


def _open(data: bytes) -> object:
    opened = open_envelope(recipient_keyring(), data, now=vector_open_at(), limits=EnvelopeLimits())
    if data != vector_envelope():
        # Only the signed vector may open: anything else passed verification it must fail.
        raise Crash("a forged envelope opened")
    return opened


def _reason_documented(error: BaseException) -> bool:
    return isinstance(error, EnvelopeRejected) and error.reason.value in REASONS


# --- the federation request body ----------------------------------------------------------


def batch_seeds() -> list[bytes]:
    envelopes = envelope_seeds()
    batches = [
        envelope.EnvelopeBatch(envelopes=envelopes[:1]).SerializeToString(),
        envelope.EnvelopeBatch(envelopes=envelopes[:5]).SerializeToString(),
        envelope.EnvelopeBatch(envelopes=[b""] * 1000).SerializeToString(),
    ]
    return batches + edge_inputs()


def _batch(data: bytes) -> object:
    """The body as the endpoint reads it, then each envelope's header as the receiver does."""
    envelopes = parse_envelope_batch(data, BATCH_LIMITS)
    for item in envelopes[:64]:
        try:
            _open(item)
        except EnvelopeRejected as rejected:
            if rejected.reason.value not in REASONS:
                raise Crash("undocumented envelope reason") from None
    return envelopes


def _batch_refusal_documented(error: BaseException) -> bool:
    return isinstance(error, BatchRefused) and error.code in BATCH_REFUSAL_CODES


# --- adapters -------------------------------------------------------------------------


def _adapter_target(format_id: str) -> Target:
    adapter = registry()[format_id]

    def seeds() -> list[bytes]:
        # The format's samples and format-aware edges (shared with the property tests of
        # tests/adapters), then the format-blind edges every target gets.
        return [*fuzz_seeds.seeds(format_id), *edge_inputs()]

    return Target(format_id, adapter.decode, (DocumentInvalid,), seeds)


# --- configuration ----------------------------------------------------------------------


@cache
def _config_dir() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="blg-fuzz-config-"))
    write_node(directory)
    return directory


def config_seeds() -> list[bytes]:
    valid = VALID_CONFIG.encode()
    digits = "9" * 4301
    edits = [
        valid,
        valid.replace(b"batch_size: 10", f"batch_size: {digits}".encode()),
        valid.replace(b"requests_per_second: 2.5", b"requests_per_second: 1" + b"0" * 400),
        valid.replace(b"max_envelope_bytes: 512KiB", f"max_envelope_bytes: {digits}".encode()),
        valid.replace(b"max_backoff: 2h", f"max_backoff: {digits}d".encode()),
        valid.replace(b"port: 9201", b"port: 0x" + b"f" * 5000),
    ]
    return edits + edge_inputs()


def _load_config(data: bytes) -> object:
    config_file = _config_dir() / "node.yaml"
    config_file.write_bytes(data)
    return load_config(config_file, ENV)


def targets() -> dict[str, Target]:
    """Every target by name."""
    found = [
        Target("open_envelope", _open, (EnvelopeRejected,), envelope_seeds, _reason_documented),
        Target(
            "federation_batch",
            _batch,
            (BatchRefused,),
            batch_seeds,
            _batch_refusal_documented,
        ),
        *(
            _adapter_target(name)
            for name in ("vn-police-json", "kh-police-xml", "hotline-111-csv", "canonical-json")
        ),
        Target("config", _load_config, (ConfigError,), config_seeds, max_len=1 << 14),
    ]
    return {target.name: target for target in found}
