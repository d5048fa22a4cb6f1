"""Generate gateway/wire/blg from proto/ with the pinned protoc (grpcio-tools).

The generated code is committed so that installing the gateway needs no compiler; the test
suite regenerates it into a temporary directory and fails if the committed copy differs.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
DEFAULT_OUT = ROOT / "gateway" / "wire"
PACKAGE_INIT = '"""Generated from proto/ by tools/gen_proto.py; do not edit."""\n'


def generate(out: Path) -> None:
    """Write *_pb2.py and *_pb2.pyi for every schema under proto/ into out."""
    sources = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    well_known = str(resources.files("grpc_tools") / "_proto")
    # The plugin sits beside the interpreter in the venv, which need not be on PATH.
    mypy_plugin = Path(sys.executable).parent / "protoc-gen-mypy"
    args = [
        "protoc",
        f"--plugin=protoc-gen-mypy={mypy_plugin}",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--mypy_out={out}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for source in sources:
        package_dir = out / Path(source).parent
        while package_dir != out:
            init = package_dir / "__init__.py"
            init.write_text(PACKAGE_INIT)
            package_dir = package_dir.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    generate(parser.parse_args().out)


if __name__ == "__main__":
    main()
