"""Text formats of keys: `ed25519:<base64>` strings, private key files, public key snippets.

One module owns these formats so that `gateway keys generate` writes exactly what the config
loader reads, and the tests can round-trip them. Only bytes cross this boundary: the crypto
code turns them into key objects, so this module needs (and imports) no crypto library.

The algorithm prefix is part of the string so that a signing key pasted into the encryption
field, or an RSA key from some other system, is caught at load time with a clear message
rather than failing a signature check days later.

No error message here ever contains key text: the same parser reads the private key file,
and an error message ends up in logs.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import yaml

from gateway.config.schema import KEY_ID_PATTERN, NODE_ID_PATTERN, PeerKeyConfig
from gateway.config.values import format_instant

KeyAlgorithm = Literal["ed25519", "x25519"]
KEY_BYTES = 32
PRIVATE_KEY_FORMAT = "blg-private-key-v1"
PRIVATE_KEY_FIELDS = ("format", "node", "key_id", "signing_secret", "encryption_secret")
_PRIVATE_KEY_HEADER = (
    "# Border Liaison Gateway private key pair. Secret: readable only by the gateway's user.\n"
)


class KeyFileError(ValueError):
    """A private key file is malformed; `line` is 1-based within that file."""

    def __init__(self, source: str, line: int, problem: str) -> None:
        self.source = source
        self.line = line
        self.problem = problem
        super().__init__(f"{source}:{line}: {problem}")


@dataclass(frozen=True)
class PrivateKeyMaterial:
    """The content of one private key file."""

    node: str
    key_id: str
    signing_seed: bytes = field(repr=False)
    encryption_secret: bytes = field(repr=False)


def parse_public_key(text: str, expected_algorithm: KeyAlgorithm) -> bytes:
    """`ed25519:<standard base64 of 32 bytes>` -> the 32 bytes; ValueError says what is wrong."""
    expected = f"expected {expected_algorithm}:<base64>"
    algorithm, colon, encoded = text.partition(":")
    if not colon:
        raise ValueError(f"missing the algorithm prefix; {expected}")
    if algorithm != expected_algorithm:
        if algorithm in ("ed25519", "x25519"):
            raise ValueError(f"an {algorithm} key where an {expected_algorithm} key belongs")
        raise ValueError(f"unknown key format {algorithm!r}; {expected}")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError(
            f"invalid base64 after '{algorithm}:'; {expected} (standard alphabet, with padding)"
        ) from None
    # b64decode accepts a few non-canonical spellings; one key must have one text form, or
    # equal keys would compare unequal as strings in configs and audit entries.
    if base64.b64encode(raw).decode("ascii") != encoded:
        raise ValueError(f"non-canonical base64 after '{algorithm}:'; {expected}")
    if len(raw) != KEY_BYTES:
        raise ValueError(f"{algorithm} key has {len(raw)} bytes; expected {KEY_BYTES}")
    return raw


def format_key(algorithm: KeyAlgorithm, raw: bytes) -> str:
    """32 bytes -> `ed25519:<base64>`, the inverse of parse_public_key."""
    if len(raw) != KEY_BYTES:
        raise ValueError(f"{algorithm} key has {len(raw)} bytes; expected {KEY_BYTES}")
    return f"{algorithm}:{base64.b64encode(raw).decode('ascii')}"


def parse_private_key_file(text: str, source: str) -> PrivateKeyMaterial:
    """Read the YAML written by format_private_key_file; KeyFileError names the line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else 1
        # Only the problem, never PyYAML's snippet of the offending line: it may hold a secret.
        raise KeyFileError(source, line, f"invalid YAML: {error.problem}") from None
    except yaml.reader.ReaderError as error:
        line = text[: error.position].count("\n") + 1
        raise KeyFileError(source, line, "invalid YAML: a character not allowed in YAML") from None
    except yaml.YAMLError:
        raise KeyFileError(source, 1, "invalid YAML") from None
    expected_shape = f"expected a mapping with keys {', '.join(PRIVATE_KEY_FIELDS)}"
    if not isinstance(root, yaml.MappingNode):
        raise KeyFileError(source, 1, expected_shape)

    values: dict[str, tuple[int, str]] = {}
    for key_node, value_node in root.value:
        line = key_node.start_mark.line + 1
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key not in PRIVATE_KEY_FIELDS:
            raise KeyFileError(
                source,
                line,
                f"unknown key {key!r}; expected one of: {', '.join(PRIVATE_KEY_FIELDS)}",
            )
        if key in values:
            raise KeyFileError(source, line, f"duplicate key {key!r}")
        if not isinstance(value_node, yaml.ScalarNode):
            raise KeyFileError(source, line, f"{key}: expected a single value")
        values[key] = (line, str(value_node.value))

    def required(key: str) -> tuple[int, str]:
        if key not in values:
            raise KeyFileError(source, root.start_mark.line + 1, f"missing key {key!r}")
        return values[key]

    line, file_format = required("format")
    if file_format != PRIVATE_KEY_FORMAT:
        raise KeyFileError(
            source, line, f"unsupported format {file_format!r}; expected {PRIVATE_KEY_FORMAT}"
        )
    line, node = required("node")
    if not NODE_ID_PATTERN.fullmatch(node):
        raise KeyFileError(
            source, line, f"node: expected a node id matching ^{NODE_ID_PATTERN.pattern}$"
        )
    line, key_id = required("key_id")
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise KeyFileError(
            source, line, f"key_id: expected a key id matching ^{KEY_ID_PATTERN.pattern}$"
        )
    secrets: dict[str, bytes] = {}
    secret_fields: tuple[tuple[str, KeyAlgorithm], ...] = (
        ("signing_secret", "ed25519"),
        ("encryption_secret", "x25519"),
    )
    for key, algorithm in secret_fields:
        line, encoded = required(key)
        try:
            secrets[key] = parse_public_key(encoded, algorithm)
        except ValueError as error:
            raise KeyFileError(source, line, f"{key}: {error}") from None
    return PrivateKeyMaterial(
        node=node,
        key_id=key_id,
        signing_seed=secrets["signing_secret"],
        encryption_secret=secrets["encryption_secret"],
    )


def format_private_key_file(material: PrivateKeyMaterial) -> str:
    """The private key file's text. The caller must create the file with mode 0600."""
    if not NODE_ID_PATTERN.fullmatch(material.node):
        raise ValueError(f"node id {material.node!r} does not match ^{NODE_ID_PATTERN.pattern}$")
    if not KEY_ID_PATTERN.fullmatch(material.key_id):
        raise ValueError(f"key id {material.key_id!r} does not match ^{KEY_ID_PATTERN.pattern}$")
    return (
        _PRIVATE_KEY_HEADER
        + f"format: {PRIVATE_KEY_FORMAT}\n"
        + f"node: {material.node}\n"
        + f"key_id: {material.key_id}\n"
        + f'signing_secret: "{format_key("ed25519", material.signing_seed)}"\n'
        + f'encryption_secret: "{format_key("x25519", material.encryption_secret)}"\n'
    )


def format_public_keys_snippet(node_id: str, keys: Sequence[PeerKeyConfig], indent: int = 0) -> str:
    """The YAML list a peer pastes under `keys:` in this node's entry of its `peers:`.

    `indent` shifts every line right, for pasting into an existing config at the right depth.
    """
    pad = " " * indent
    lines = [f"# Public keys of {node_id}: the keys: list of its entry under peers:"]
    for key in keys:
        if not KEY_ID_PATTERN.fullmatch(key.id):
            raise ValueError(f"key id {key.id!r} does not match ^{KEY_ID_PATTERN.pattern}$")
        lines += [
            f"- id: {key.id}",
            f'  signing_public_key: "{format_key("ed25519", key.signing_public_key)}"',
            f'  encryption_public_key: "{format_key("x25519", key.encryption_public_key)}"',
            f"  valid_from: {format_instant(key.valid_from)}",
            f"  valid_until: {format_instant(key.valid_until)}",
        ]
    return "".join(f"{pad}{line}\n" for line in lines)
