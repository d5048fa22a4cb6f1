"""tools/fuzz.py: the summary line the README table is built from, and crash bookkeeping."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tools.fuzz import Harness, Summary, main
from tools.fuzz_targets import Target


@pytest.mark.parametrize("target", ["open_envelope", "federation_batch", "kh-police-xml"])
def test_a_short_run_prints_one_summary_line(
    target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--target", target, "--count", "300"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    fields = dict(part.split("=", 1) for part in line.split())
    assert fields["target"] == target
    assert fields["inputs"] == "300"
    assert (fields["crashes"], fields["crash_types"], fields["stored"]) == ("0", "0", "-")


def _explode(data: bytes) -> None:
    if data.startswith(b"{"):
        raise KeyError("x")
    raise ValueError("documented")


def test_undocumented_exceptions_are_counted_by_type_and_kept_privately(tmp_path: Path) -> None:
    target = Target("fake", _explode, (ValueError,), lambda: [b"a"])
    summary = Summary("fake", "mutate")
    harness = Harness(target, summary, tmp_path / "crashes")
    for data in (b"a", b"{1", b"{2", b"b"):
        harness.run(data)
    assert (summary.inputs, summary.crashes) == (4, 2)
    [name] = summary.crash_types
    assert name.startswith("KeyError@tests/fuzzing/test_fuzz_tool.py:")
    [saved] = (tmp_path / "crashes").iterdir()
    assert saved.read_bytes() == b"{1"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "crashes").stat().st_mode) == 0o700
    assert "crashes=2 crash_types=1" in summary.line()
