"""`gateway report` refuses bad arguments before it opens anything: exit 2, the field named,
what was expected said (table-driven). The report itself is proven end to end in
tests/report/test_report_e2e.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli.main import main


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--from", "2026-13-01", "--to", "2026-12-31"], "--from: expected a date as YYYY-MM-DD"),
        (["--from", "2026-1-1", "--to", "2026-12-31"], "--from: expected a date as YYYY-MM-DD"),
        (["--from", "2026-01-01", "--to", "yesterday"], "--to: expected a date as YYYY-MM-DD"),
        (["--from", "2026-07-01", "--to", "2026-06-30"], "--to: expected a day on or after --from"),
        (
            ["--from", "2026-01-01", "--to", "2027-01-02"],
            "--to: the period is 367 days; at most 366",
        ),
        (
            ["--from", "2026-01-01", "--to", "2026-06-30", "--format", "pdf"],
            "--format: expected one of csv",
        ),
        (
            ["--from", "2026-01-01", "--to", "2026-06-30", "--lang", "fr"],
            "--lang: expected one of vi, km, en",
        ),
        (
            ["--from", "2026-01-01", "--to", "2026-06-30", "--out", "/nonexistent/r.csv"],
            "--out: no folder /nonexistent",
        ),
    ],
)
def test_bad_arguments_exit_2_naming_the_field(
    arguments: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {"--format": "csv"}
    flags = dict(zip(arguments[::2], arguments[1::2], strict=True))
    argv = ["report", "--config", str(tmp_path / "absent.yaml")]
    for flag, value in {**base, **flags}.items():
        argv += [flag, value]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gateway report: error: {expected}")
    assert "Traceback" not in err


def test_a_symlink_at_out_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "link.csv").symlink_to(tmp_path / "elsewhere.csv")
    argv = ["report", "--config", str(tmp_path / "absent.yaml"), "--format", "csv"]
    argv += ["--from", "2026-01-01", "--to", "2026-06-30", "--out", str(tmp_path / "link.csv")]
    assert main(argv) == 2
    assert "--out: not a regular file: link.csv" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere.csv").exists()


def test_good_arguments_go_on_to_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["report", "--config", str(tmp_path / "absent.yaml"), "--format", "csv"]
    argv += ["--from", "2026-01-01", "--to", "2026-12-31"]  # 365 days: accepted
    assert main(argv) == 1  # no config there: the loader says so
    assert "gateway report: error" not in capsys.readouterr().err
