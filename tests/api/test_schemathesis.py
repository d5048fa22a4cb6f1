"""schemathesis against the live local API of a real gateway: no server errors, and every
answer is one the OpenAPI document promises."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.federation.harness import Federation, local_client

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


async def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    federation: Federation, tmp_path: Path
) -> None:
    token, client = local_client("case-system", ["canonical-json"])
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[POLICE] = {"local_clients": [client]}
    federation.write_config(POLICE)
    for node in (POLICE, RATANAKIRI):
        federation.start(node)
        await federation.wait_ready(node)
    api = f"http://127.0.0.1:{federation.nodes[POLICE].api_port}"
    process = await asyncio.create_subprocess_exec(
        SCHEMATHESIS,
        "run",
        f"{api}/api/v1/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance",
        "--max-examples",
        "40",
        "--seed",
        "2026",
        "--workers",
        "1",
        "--no-color",
        "--generation-database",
        "none",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    report = output.decode(errors="replace")
    assert process.returncode == 0, report[-6000:]
    assert " passed" in report, report[-3000:]
    assert " failed" not in report, report[-3000:]
