"""schemathesis against the live local API of a real gateway: no server errors, and every
answer is one the OpenAPI document promises, including past validation.

The hooks in schemathesis_hooks.py give schemathesis valid partner documents, the node's peer
and the ids of messages the client sent; the answers it logged are counted here, so a run
that stopped reaching the code behind validation (a 202, a status, an inbox page) fails
instead of passing on refusals alone.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
from pathlib import Path

import aiohttp
from google.protobuf import json_format

from tests.api.attachment_support import encrypted, post_with_attachments, push
from tests.federation.harness import Federation, alert, local_client

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
ROOT = Path(__file__).resolve().parents[2]
FORMATS = ["vn-police-json", "kh-police-xml", "hotline-111-csv", "canonical-json"]
# Answers past validation that a run must reach: (method, path, status, request media type
# or None for any) and how often at least. With --max-examples 60 and most inputs aimed at
# valid ones, runs reach more (40 was enough until the acknowledgement and attachment
# operations took their share: seed 2026 then drew only 7 canonical-json submissions).
REACHED = {
    ("POST", "/api/v1/messages", 202, None): 40,
    ("POST", "/api/v1/messages", 202, "application/vnd.vn-police+json"): 10,
    ("POST", "/api/v1/messages", 202, "application/vnd.kh-police+xml"): 10,
    ("POST", "/api/v1/messages", 202, "text/csv"): 10,
    # Fewer: a generated canonical document often names attachments never uploaded (422
    # attachment_unknown), which is a right answer too.
    ("POST", "/api/v1/messages", 202, "application/vnd.blg.canonical+json"): 5,
    ("GET", "/api/v1/messages/{message_id}", 200, None): 40,
    ("GET", "/api/v1/inbox", 200, None): 15,
    ("GET", "/api/v1/inbox/{message_id}/attachments/{attachment_id}", 200, None): 10,
    # Acknowledging a received message: once queued (202), then the same answer (200).
    ("POST", "/api/v1/inbox/{message_id}/acknowledge", 200, None): 1,
    ("POST", "/api/v1/inbox/{message_id}/handled", 200, None): 1,
    # Person search (issue 13): past validation into the index.
    ("POST", "/api/v1/search", 200, None): 10,
}


async def _submit(api: str, token: str, reference: str) -> str:
    """Send one message through the API; its id."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{api}/api/v1/messages",
            params={"to": RATANAKIRI},
            data=json_format.MessageToJson(alert(reference)).encode(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/vnd.blg.canonical+json",
            },
        ) as response,
    ):
        answer = await response.json()
        assert response.status == 202, answer
        return str(answer["messages"][0]["id"])


async def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    federation: Federation, tmp_path: Path
) -> None:
    token, client = local_client("case-system", FORMATS)
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[POLICE] = {"local_clients": [client]}
    federation.write_config(POLICE)
    for node in (POLICE, RATANAKIRI):
        federation.start(node)
        await federation.wait_ready(node)
    api = f"http://127.0.0.1:{federation.nodes[POLICE].api_port}"
    # Something to read: messages sent by this client, and messages in the inbox.
    sent = [await _submit(api, token, f"TB-SENT-{i}") for i in range(3)]
    received = await federation.send(RATANAKIRI, POLICE, [alert(f"RTK-{i}") for i in range(3)])
    await federation.wait_delivered(RATANAKIRI, 3)
    # And an attachment to download (the peer pushes the stream, then the message naming it).
    stream, key = encrypted(b"scan " * 4000, "application/pdf")
    await push(federation, RATANAKIRI, POLICE, key.attachment_id, stream)
    with_scan = await post_with_attachments(federation, RATANAKIRI, POLICE, alert("RTK-A"), [key])
    answers = tmp_path / "answers.log"
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
        "60",
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
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
            "BLG_SCHEMATHESIS_PEER": RATANAKIRI,
            "BLG_SCHEMATHESIS_IDS": json.dumps(sent),
            "BLG_SCHEMATHESIS_ATTACHMENTS": json.dumps([[str(with_scan), key.attachment_id]]),
            "BLG_SCHEMATHESIS_RECEIVED": json.dumps([str(q.message_id) for q in received]),
            "BLG_SCHEMATHESIS_ANSWERS": str(answers),
        },
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    report = output.decode(errors="replace")
    assert process.returncode == 0, report[-6000:]
    assert " passed" in report, report[-3000:]
    assert " failed" not in report, report[-3000:]
    # schemathesis's own verdicts on whether its inputs got anywhere.
    assert "validation mismatch" not in report.lower(), report[-3000:]
    assert "missing test data" not in report.lower(), report[-3000:]
    logged = [line.split()[:4] for line in answers.read_text().splitlines()]
    reached = {
        (method, path, status, media_type): sum(
            1
            for m, p, s, t in logged
            if (m, p, int(s)) == (method, path, status) and media_type in (None, t)
        )
        for method, path, status, media_type in REACHED
    }
    assert all(reached[answer] >= least for answer, least in REACHED.items()), (
        reached,
        collections.Counter(" ".join(line[:3]) for line in logged),
    )
