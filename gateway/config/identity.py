"""Reading the node and keys sections: who this node is, and its own key pairs.

A private key file is opened here, at load time, and refused when other users can read it or
when it belongs to another node or key id, so that `gateway config check` finds it rather
than the node at its first signature.
"""

from __future__ import annotations

import stat
from datetime import datetime
from pathlib import Path

from gateway.config.converters import instant, path, text, text_matching
from gateway.config.keyfiles import (
    KeyFileError,
    PrivateKeyMaterial,
    parse_private_key_file,
)
from gateway.config.schema import (
    COUNTRY_PATTERN,
    KEY_ID_PATTERN,
    NODE_ID_PATTERN,
    PROVINCE_PATTERN,
    LocalizedNames,
    NodeIdentity,
    OwnKeyConfig,
)
from gateway.config.values import format_instant
from gateway.config.walker import MappingReader, Rejected, Value

# Identity and names


def country_code(value: Value) -> str:
    expected = "an ISO 3166-1 alpha-2 country code in upper case, such as VN or KH"
    code = value.scalar_text(expected)
    if not COUNTRY_PATTERN.fullmatch(code):
        value.expected(expected)
    return code


def read_names(value: Value) -> LocalizedNames:
    r = value.mapping()
    names = LocalizedNames(
        en=r.required("en", text),
        vi=r.optional("vi", text, None),
        km=r.optional("km", text, None),
        lo=r.optional("lo", text, None),
    )
    r.finish()
    return names


def read_identity(value: Value) -> NodeIdentity:
    r = value.mapping()
    node_id = r.required("id", text_matching(NODE_ID_PATTERN, "a node id"))
    names = r.required("names", read_names)
    country = r.required("country", country_code)
    province = r.optional(
        "province",
        text_matching(PROVINCE_PATTERN, "an ISO 3166-2 subdivision code such as VN-30"),
        None,
    )
    if (
        r.ok("country", "province")
        and province is not None
        and not province.startswith(f"{country}-")
    ):
        r.report(
            "province", f"expected a subdivision of {country} ({country}-...), got {province!r}"
        )
    r.finish()
    return NodeIdentity(id=node_id, names=names, country=country, province=province)


# Own keys


def check_validity(r: MappingReader, valid_from: datetime, valid_until: datetime) -> None:
    if r.ok("valid_from", "valid_until") and valid_until <= valid_from:
        r.report(
            "valid_until",
            f"expected a time after valid_from ({format_instant(valid_from)}), "
            f"got {format_instant(valid_until)}",
        )


def read_own_key(value: Value, node_id: str | None) -> OwnKeyConfig:
    r = value.mapping()
    key_id = r.required("id", text_matching(KEY_ID_PATTERN, "a key id"))
    private_key_file = r.required("private_key_file", path)
    valid_from = r.required("valid_from", instant)
    valid_until = r.required("valid_until", instant)
    check_validity(r, valid_from, valid_until)
    material = None
    if r.ok("private_key_file"):
        material = _load_private_key(r, private_key_file, node_id, key_id if r.ok("id") else None)
    r.finish()
    if material is None:  # _load_private_key reported why, so finish() has raised already
        raise Rejected
    return OwnKeyConfig(
        id=key_id,
        valid_from=valid_from,
        valid_until=valid_until,
        private_key_file=private_key_file,
        signing_seed=material.signing_seed,
        encryption_secret=material.encryption_secret,
    )


def _load_private_key(
    r: MappingReader, key_file: Path, node_id: str | None, key_id: str | None
) -> PrivateKeyMaterial | None:
    """Read and check one key file; problems are reported at the config's private_key_file."""
    problems: list[str] = []
    readable = False
    try:
        mode = key_file.stat().st_mode
    except FileNotFoundError:
        problems.append(f"key file not found: {key_file}")
    except OSError as error:
        problems.append(f"cannot read key file {key_file}: {error.strerror or error}")
    else:
        readable = stat.S_ISREG(mode)
        if not readable:
            problems.append(f"expected a key file, {key_file} is not a regular file")
        elif mode & 0o077:
            # Reported, yet the file is still read, so that one run shows its other problems.
            problems.append(f"key file {key_file} is readable by others; run chmod 600 {key_file}")
    material = None
    if readable:
        try:
            material = parse_private_key_file(key_file.read_text(encoding="utf-8"), str(key_file))
        except KeyFileError as error:
            problems.append(f"invalid key file {error.source}, line {error.line}: {error.problem}")
        except UnicodeDecodeError:
            problems.append(f"invalid key file {key_file}: expected UTF-8 text")
        except OSError as error:
            problems.append(f"cannot read key file {key_file}: {error.strerror or error}")
    if material is not None and node_id is not None and material.node != node_id:
        problems.append(
            f"key file {key_file} belongs to node {material.node!r}; expected node {node_id!r}"
        )
    if material is not None and key_id is not None and material.key_id != key_id:
        problems.append(
            f"key file {key_file} holds key {material.key_id!r}; expected key {key_id!r}"
        )
    for problem in problems:
        r.report("private_key_file", problem)
    return None if problems else material
