"""`gateway convert`: a document from one partner format to another, offline.

The same adapters as the running gateway, with no node, keys or database: for checking what
a partner's system will receive, and for converting exports by hand. Exit codes: 0 all
converted, 1 some records (or the whole document) rejected while the rest were still
written, 2 unusable arguments. Every error and warning is one line on stderr.

The adapters' bounds (adapters.common.limits) apply here as in the node, so a hostile document
(10 MB of empty XML elements took 1.7 GB) is refused at once, in a few MB.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from adapters import Adapter, CannotEncode, DocumentInvalid, UnknownFormatError, adapter_for
from gateway.documents import decode_guarded
from gateway.ops.private_files import UnsafePath, private_folder, replace_private

USAGE_ERROR = 2


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's subparsers type is private
    convert = commands.add_parser(
        "convert",
        help="convert a document between partner formats",
        description="Read FILE (or standard input) in --from format and write it in --to "
        "format to standard output. A document holding several messages (a CSV export) is "
        "written one document per line for JSON targets, or one file per message into "
        "--out-dir for any target.",
    )
    convert.add_argument("--from", dest="source", required=True, metavar="FMT")
    convert.add_argument("--to", dest="target", required=True, metavar="FMT")
    convert.add_argument("--out-dir", type=Path, metavar="DIR", help="one file per message")
    convert.add_argument("file", nargs="?", type=Path, metavar="FILE", help="default: stdin")
    convert.set_defaults(handler=run)


def _say(kind: str, text: str) -> None:
    print(f"{kind}: {text}", file=sys.stderr)


def _extension(adapter: Adapter) -> str:
    for marker in ("json", "xml", "csv"):
        if marker in adapter.media_type:
            return marker
    return "txt"


def _file_name(index: int, reference: str, extension: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", reference).strip("._") or "message"
    return f"{index:04d}-{safe}.{extension}"


def run(args: argparse.Namespace) -> int:
    try:
        source, target = adapter_for(args.source), adapter_for(args.target)
    except UnknownFormatError as error:
        _say("error", str(error))
        return USAGE_ERROR
    try:
        data = args.file.read_bytes() if args.file else sys.stdin.buffer.read()
    except OSError as error:
        _say("error", f"cannot read {args.file}: {error.strerror}")
        return USAGE_ERROR
    try:
        # Guarded like the node's decodes: a decoder fault is an error line, not a traceback.
        result = decode_guarded(source, data)
    except DocumentInvalid as invalid:
        for problem in invalid.problems:
            _say("error", str(problem))
        return 1
    rejected = len(result.rejected)
    for record in result.rejected:
        for line in record.lines():
            _say("error", line)
    documents: list[tuple[str, bytes]] = []
    for decoded in result.messages:
        label = f"{decoded.record}: " if decoded.record else ""
        for warning in decoded.warnings:
            _say("warning", f"{label}{warning}")
        try:
            encoded = target.encode(decoded.message)
        except CannotEncode as refused:
            _say("error", f"{label}{refused.problem}")
            rejected += 1
            continue
        for warning in encoded.warnings:
            _say("warning", f"{label}{warning}")
        documents.append((decoded.message.sender_reference, encoded.data))
    if args.out_dir is not None:
        # Converted documents hold the same police data as the node's: 0600 in 0700.
        private_folder(args.out_dir)
        extension = _extension(target)
        for index, (reference, document) in enumerate(documents, 1):
            name = _file_name(index, reference, extension)
            try:
                replace_private(args.out_dir / name, document)
            except UnsafePath:
                _say("error", f"{name}: not written: a symlink or other non-file holds the name")
                rejected += 1
    elif len(documents) == 1:
        sys.stdout.buffer.write(documents[0][1])
    elif documents:
        if _extension(target) != "json":
            _say("error", f"{len(documents)} messages: use --out-dir to write {target.format_id}")
            return USAGE_ERROR
        for _, document in documents:
            line = json.dumps(json.loads(document), ensure_ascii=False, separators=(",", ":"))
            sys.stdout.write(line + "\n")
    return 1 if rejected else 0
