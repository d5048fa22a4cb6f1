"""`gateway convert --out-dir` writes police data: 0600 files in a 0700 folder whatever the
umask, and never through a symlink planted at a file's name."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gateway.cli.main import main

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "partners"


def test_converted_files_are_private_and_a_planted_symlink_is_not_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "alerts"
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched")
    out.mkdir(parents=True)
    (out / "0001-111-20261121-0457.xml").symlink_to(outside)
    previous = os.umask(0)
    try:
        code = main(
            [
                "convert",
                "--from",
                "hotline-111-csv",
                "--to",
                "kh-police-xml",
                "--out-dir",
                str(out),
                str(SAMPLES / "hotline-111-csv" / "samples" / "calls.csv"),
            ]
        )
    finally:
        os.umask(previous)
    assert code == 1
    assert "0001-111-20261121-0457.xml: not written" in capsys.readouterr().err
    assert outside.read_text() == "untouched"
    written = [path for path in out.iterdir() if not path.is_symlink()]
    assert len(written) == 2
    assert {stat.S_IMODE(path.stat().st_mode) for path in written} == {0o600}
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
