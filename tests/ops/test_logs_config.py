"""The config's `logging:` section: defaults, values, refusals at FILE:LINE, and what
`gateway run` says when the operator's dictConfig file cannot be built."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from gateway.config import DEFAULT_LOGGING, LoggingConfig, load_config
from gateway.store import EmbeddedPostgres
from tests.config.test_loader import ENV, VALID_CONFIG, issues, write_node

GATEWAY = str(Path(sys.executable).parent / "gateway")
SECTION_LINE = VALID_CONFIG.count("\n") + 1
SECRET = "Nguyễn Thị Lan"


def _with(section: str) -> str:
    return VALID_CONFIG + f"logging:\n  {section}\n"


def test_defaults_are_json_at_info(tmp_path: Path) -> None:
    assert load_config(write_node(tmp_path), ENV).logging == DEFAULT_LOGGING
    assert LoggingConfig(format="json", level="info", config_file=None) == DEFAULT_LOGGING


def test_format_level_and_a_dict_config_file_are_read(tmp_path: Path) -> None:
    config = load_config(write_node(tmp_path, _with("{format: text, level: debug}")), ENV)
    assert config.logging == LoggingConfig(format="text", level="debug")
    (tmp_path / "logging.yaml").write_text("version: 1\n")
    config = load_config(write_node(tmp_path, _with("{config_file: logging.yaml}")), ENV)
    assert config.logging.config_file == tmp_path / "logging.yaml"


@pytest.mark.parametrize(
    ("section", "line", "message"),
    [
        ("{format: xml}", 1, "logging.format: expected one of: json, text, got 'xml'"),
        ("{level: verbose}", 1, "logging.level: expected one of: debug, info, warning, error"),
        ("{config_file: absent.yaml}", 1, "logging.config_file: file not found: "),
        (
            "{config_file: not-dict-config.yaml}",
            1,
            "logging.config_file: {dir}/not-dict-config.yaml: expected a logging.config "
            "dictConfig mapping with `version: 1`",
        ),
        (
            "{config_file: logging.yaml, level: debug}",
            1,
            "logging.level: expected no format or level beside config_file",
        ),
        ("{colour: true}", 1, "logging.colour: unknown key 'colour'"),
    ],
)
def test_bad_values_are_refused_with_the_line_and_key(
    tmp_path: Path, section: str, line: int, message: str
) -> None:
    (tmp_path / "logging.yaml").write_text("version: 1\n")
    (tmp_path / "not-dict-config.yaml").write_text("handlers: {}\n")
    config_file = write_node(tmp_path, _with(section))
    found = issues(config_file)
    assert len(found) == 1, found
    expected = message.format(dir=tmp_path)
    assert found[0].startswith(f"{config_file}:{SECTION_LINE + line}: {expected}"), found[0]


def _run(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GATEWAY, "run", "--config", str(config_file), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **ENV},
    )


def test_run_names_the_file_when_its_handlers_cannot_be_built(tmp_path: Path) -> None:
    logging_file = tmp_path / "logging.yaml"
    logging_file.write_text(
        "version: 1\nhandlers:\n  out: {class: no.such.Handler}\nroot: {handlers: [out]}\n"
    )
    config_file = write_node(tmp_path, _with("{config_file: logging.yaml}"))
    ran = _run(config_file)
    assert ran.returncode == 1
    assert f"logging.config_file {logging_file}: Unable to configure handler 'out'" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_run_refuses_a_log_format_flag_beside_a_dict_config_file(tmp_path: Path) -> None:
    (tmp_path / "logging.yaml").write_text("version: 1\n")
    config_file = write_node(tmp_path, _with("{config_file: logging.yaml}"))
    ran = _run(config_file, "--log-format", "text")
    assert ran.returncode == 1
    assert "--log-format cannot be used with logging.config_file" in ran.stderr


async def test_the_embedded_servers_log_file_keeps_row_values_out(
    postgres: EmbeddedPostgres,
) -> None:
    """A unique violation's DETAIL quotes the row's key: the embedded server's log (a file
    of the node, in its state_dir) names the error and nothing of the row."""
    log_file = postgres.data_dir / "log"
    start = log_file.stat().st_size
    dsn = await postgres.ensure_database(f"logs_{uuid.uuid4().hex[:12]}")
    connection = await asyncpg.connect(dsn)
    try:
        assert await connection.fetchval("SHOW log_error_verbosity") == "terse"
        await connection.execute("CREATE TABLE people (name text PRIMARY KEY)")
        await connection.execute("INSERT INTO people VALUES ($1)", SECRET)
        with pytest.raises(asyncpg.UniqueViolationError):
            await connection.execute("INSERT INTO people VALUES ($1)", SECRET)
    finally:
        await connection.close()

    def written() -> str:
        with log_file.open("rb") as log:
            log.seek(start)
            return log.read().decode("utf-8", errors="replace")

    deadline = time.monotonic() + 10
    while "people_pkey" not in written() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert 'ERROR:  duplicate key value violates unique constraint "people_pkey"' in written()
    assert SECRET not in written()
    assert "INSERT" not in written()
