"""No victim data in logs, metric labels, URLs, error bodies or audit rows (issue 9, item 4).

Two real `gateway run` nodes at DEBUG, one logging JSON (the default) and one text
(`--log-format text`), exchange every partner and demo sample through the local API (each in
its own system's format, and broken variants of each that the API refuses) and the hotline's
drop folder (the export named after its first caller); then a handover with named victims is
composed, approved and opened in the console of the running node, and its receiver opens it
in its own console. Everything an operator, or anyone who reads the logs, could see is
collected: every log line of both nodes and of their database server (since the test
began), the label sets of both /metrics pages, every URL the consoles served (links, form
actions, redirects), every error body, every audit row. The secrets are every string field
of every message decoded from the samples, from what the peers' systems received and from
the envelopes both nodes keep (tests/federation/leaks.py). A planted leak makes the check
fail (`test_a_planted_leak_is_found`).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters import adapter_for
from gateway.console import Role
from gateway.console.accounts import add_user
from gateway.console.form_fields import LOCAL_ZONE
from gateway.crypto import reopen_sent, reopen_stored
from gateway.demo.exchange import PLACEHOLDER_PNG
from gateway.federation.outgoing_attachments import attachment_refs
from gateway.wire import canonical
from tests.delivery import conftest as delivery_fixtures
from tests.delivery.conftest import Webhook
from tests.federation.harness import Federation, local_client
from tests.federation.leaks import (
    Exposure,
    audit_texts,
    metric_labels,
    samples,
    secrets_of,
    secrets_of_documents,
    urls_in,
)

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
HMAC_SECRET = "a-shared-secret-of-at-least-32-characters"
# The console's handover: victims and an escort the samples do not name.
CONSOLE_VICTIMS = ("Lò Thị Mẩy", "LO Thi May", "ស៊ុខ ចាន់ធី", "Vàng A Páo")
ESCORT_PHONE = "0913 246 802"
_DRAFT = re.compile(r'data-draft-id="(\d+)"')
# The delivery tests' webhook endpoint fixture, for this module too.
webhook = delivery_fixtures.webhook
_FIELD_ERROR = re.compile(r'<p class="field-error" data-field="([^"]+)"[^>]*>([^<]*)</p>')
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


class Visitor:
    """An HTTP client of one node's local listener that records what the node shows it:
    every URL (links, form actions, redirects) and every error body."""

    def __init__(self, base: str, seen: Exposure, label: str) -> None:
        self.base = base
        self.seen = seen
        self.label = label
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def request(
        self,
        method: str,
        path: str,
        *,
        expect: int | None = None,
        echoes_input: bool = False,
        **kwargs: Any,
    ) -> tuple[int, str, str | None]:
        """The status, body and Location of one request; echoes_input: a form sent back
        with its mistakes shows the user's own input in its fields (the caller checks its
        messages instead)."""
        async with self.session.request(
            method, self.base + path, allow_redirects=False, **kwargs
        ) as response:
            body = await response.text()
            location = response.headers.get("Location")
        self.seen.add(f"{self.label} URL", path)
        if location is not None:
            self.seen.add(f"{self.label} redirect", location)
        if response.content_type == "text/html":
            for url in urls_in(body):
                self.seen.add(f"{self.label} URL in page {path}", url)
        if response.status >= 400 and not echoes_input:
            self.seen.add(f"{self.label} error body of {method} {path}", body)
        assert expect is None or response.status == expect, (
            response.status,
            _FIELD_ERROR.findall(body) or body[:2000],
        )
        return response.status, body, location

    async def csrf(self, path: str) -> str:
        _, page, _ = await self.request("GET", path, expect=200)
        found = _CSRF.search(page)
        assert found is not None, page[:2000]
        return found.group(1)

    async def sign_in(self, name: str, password: str) -> None:
        token = await self.csrf("/console/sign-in")
        form = {"name": name, "password": password, "csrf_token": token}
        await self.request("POST", "/console/sign-in", data=form, expect=303)

    async def post_form(self, path: str, fields: list[tuple[str, str]], form_page: str) -> str:
        token = await self.csrf(form_page)
        _, _, location = await self.request(
            "POST", path, data=[*fields, ("csrf_token", token)], expect=303
        )
        assert location is not None
        return location

    async def close(self) -> None:
        await self.session.close()


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def _users(federation: Federation, node: str, roles: list[Role]) -> dict[Role, str]:
    """A user of each role on node; the password of each is its name."""
    store = await federation.store(node)
    names: dict[Role, str] = {}
    try:
        for role in roles:
            name = f"{role.value}-{secrets.token_hex(3)}"
            await add_user(store, name=name, password=name * 2, role=role, language="en")
            names[role] = name
    finally:
        await store.close()
    return names


def _broken(data: bytes) -> list[bytes]:
    """Variants the API refuses: cut in half (its last record's text ends mid-way, which a
    decoder error might quote) and with a byte that is not UTF-8 inside a field."""
    middle = len(data) // 2
    return [data[:middle], data[:middle] + b"\xff" + data[middle:]]


async def _exchange(
    federation: Federation, webhook: Webhook, tmp_path: Path, seen: Exposure
) -> tuple[str, int]:
    """Start both nodes and send every sample; the receiver's token and inbox size."""
    police_token, police_client = local_client("case-system", ["vn-police-json"])
    police_client["delivery"] = {
        "type": "webhook",
        "url": f"http://127.0.0.1:{webhook.port}/blg-inbox",
        "hmac_secret": HMAC_SECRET,
    }
    hotline_token, hotline_client = local_client(
        "hotline-111", ["hotline-111-csv"], ["hotline_alert"]
    )
    hotline_folder = tmp_path / "hotline-out"
    hotline_client["outgoing_folder"] = {
        "path": str(hotline_folder),
        "format": "hotline-111-csv",
        "to": [RATANAKIRI],
        "poll_interval": "200ms",
    }
    rtk_token, rtk_client = local_client("police-records", ["kh-police-xml"])
    rtk_client["delivery"] = {"type": "drop_folder", "path": str(tmp_path / "rtk-in")}
    await federation.add(POLICE, RATANAKIRI)
    debug = {"logging": {"level": "debug"}}
    federation.sections[POLICE] = {"local_clients": [police_client, hotline_client], **debug}
    federation.sections[RATANAKIRI] = {"local_clients": [rtk_client], **debug}
    for node, run_args in ((POLICE, ()), (RATANAKIRI, ("--log-format", "text"))):
        federation.write_config(node)
        federation.start(node, run_args=run_args)
        await federation.wait_ready(node)

    senders = {
        "vn-police-json": (POLICE, police_token, RATANAKIRI),
        "hotline-111-csv": (POLICE, hotline_token, RATANAKIRI),
        "kh-police-xml": (RATANAKIRI, rtk_token, POLICE),
    }
    visitors = {
        node: Visitor(federation.api_url(node), seen, node) for node in (POLICE, RATANAKIRI)
    }
    to_ratanakiri = 0
    try:
        for sample in samples():
            node, token, to = senders[sample.format_id]
            visitor = visitors[node]
            # A message names only attachments its client uploaded: a placeholder per id.
            for decoded in adapter_for(sample.format_id).decode(sample.data).messages:
                for _, attachment_id in attachment_refs(decoded.message):
                    status, _, _ = await visitor.request(
                        "PUT",
                        f"/api/v1/attachments/{attachment_id}",
                        data=PLACEHOLDER_PNG,
                        headers={"Authorization": f"Bearer {token}", "Content-Type": "image/png"},
                    )
                    assert status in (200, 201), status
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Type": adapter_for(sample.format_id).media_type,
            }
            _, body, _ = await visitor.request(
                "POST", f"/api/v1/messages?to={to}", data=sample.data, headers=headers, expect=202
            )
            answer = json.loads(body)
            seen.add(f"{node} API warnings", json.dumps(answer["warnings"], ensure_ascii=False))
            to_ratanakiri += len(answer["messages"]) if to == RATANAKIRI else 0
            for item in answer["messages"]:
                seen.add(f"{node} API status URL", item["status_url"])
                await visitor.request("GET", item["status_url"], headers=headers, expect=200)
            for broken in _broken(sample.data):
                status, body, _ = await visitor.request(
                    "POST", f"/api/v1/messages?to={to}", data=broken, headers=headers
                )
                if status == 202:  # a CSV cut between two records: the first ones are whole
                    seen.add(f"{node} API answer", body)
                    to_ratanakiri += len(json.loads(body)["messages"]) if to == RATANAKIRI else 0
                else:
                    assert 400 <= status < 500, (sample.name, status)
            await visitor.request(
                "POST", "/api/v1/messages?to=la-nowhere", data=sample.data, headers=headers
            )
        hotline_folder.mkdir(parents=True, exist_ok=True)
        export = next(s.data for s in samples() if s.format_id == "hotline-111-csv")
        # Named after its first caller, as a local system might name its exports.
        [first, *_] = adapter_for("hotline-111-csv").decode(export).messages
        caller = first.message.hotline_alert.caller.name
        assert caller
        (hotline_folder / f"{caller}.csv").write_bytes(export)
        # The hotline export is also in the drop folder: its alerts go a second time.
        to_ratanakiri += len(adapter_for("hotline-111-csv").decode(export).messages)
    finally:
        for visitor in visitors.values():
            await visitor.close()
    return rtk_token, to_ratanakiri


async def _console_handover(federation: Federation, seen: Exposure) -> None:
    """Compose a handover with named victims at the police, approve it, open its case page;
    then the receiver's officer opens the case it started there."""
    police = await _users(federation, POLICE, [Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR])
    planned = (datetime.now(UTC) + timedelta(days=2)).astimezone(LOCAL_ZONE)
    fields = [
        ("to", RATANAKIRI),
        ("border_gate", "VN-LETHANH"),
        ("planned_at", planned.strftime("%Y-%m-%dT%H:%M")),
        ("note", "Nạn nhân Lò Thị Mẩy sợ gặp lại người môi giới ở cửa khẩu"),
        ("victims-0-name", CONSOLE_VICTIMS[0]),
        ("victims-0-name_latin", CONSOLE_VICTIMS[1]),
        ("victims-0-sex", "female"),
        ("victims-0-birth_date", "2009-04-17"),
        ("victims-0-minor", "on"),
        ("victims-0-needs", "psychological"),
        ("victims-0-child-0-name", CONSOLE_VICTIMS[2]),
        ("victims-0-child-0-name_latin", "SOK Chanthy"),
        ("victims-1-name", CONSOLE_VICTIMS[3]),
        ("victims-1-sex", "male"),
        ("escort-0-name", "Hoàng Văn Thụ"),
        ("escort-0-rank", "Đại úy"),
        ("escort-0-unit", "Đồn Biên phòng Lệ Thanh"),
        ("escort-0-phone", ESCORT_PHONE),
    ]
    officer = Visitor(federation.api_url(POLICE), seen, f"{POLICE} console")
    supervisor = Visitor(federation.api_url(POLICE), seen, f"{POLICE} console")
    try:
        await officer.sign_in(police[Role.OFFICER], police[Role.OFFICER] * 2)
        await officer.request("GET", "/console/compose/handover", expect=200)
        # A form with a mistake comes back with the values typed (the officer's own input)
        # and a message beside the field, which must not quote them.
        token = await officer.csrf("/console/compose/handover")
        wrong = [(k, "17/04/20O9" if k == "victims-0-birth_date" else v) for k, v in fields]
        _, page, _ = await officer.request(
            "POST",
            "/console/compose/handover",
            data=[*wrong, ("csrf_token", token)],
            expect=400,
            echoes_input=True,
        )
        errors = _FIELD_ERROR.findall(page)
        assert [name for name, _ in errors] == ["victims-0-birth_date"], errors
        seen.add(f"{POLICE} console field errors", json.dumps(errors, ensure_ascii=False))
        case_page = await officer.post_form(
            "/console/compose/handover", fields, "/console/compose/handover"
        )
        await supervisor.sign_in(police[Role.SUPERVISOR], police[Role.SUPERVISOR] * 2)
        _, approvals, _ = await supervisor.request("GET", "/console/approvals", expect=200)
        [draft] = _DRAFT.findall(approvals)
        await supervisor.post_form(f"/console/approvals/{draft}/approve", [], "/console/approvals")
        await officer.request("GET", "/console/cases", expect=200)
        await officer.request("GET", case_page, expect=200)
        await officer.request("GET", "/console/cases?kind=victim_handover", expect=200)
        await officer.request("GET", "/console/cases/not-a-case", expect=404)
        await officer.request("GET", "/console/operator", expect=403)
        operator = Visitor(federation.api_url(POLICE), seen, f"{POLICE} console")
        try:
            await operator.sign_in(police[Role.OPERATOR], police[Role.OPERATOR] * 2)
            await operator.request("GET", "/console/operator", expect=200)
            await operator.request("GET", case_page, expect=200)
        finally:
            await operator.close()
    finally:
        await officer.close()
        await supervisor.close()


async def _receiver_opens_cases(federation: Federation, seen: Exposure) -> None:
    users = await _users(federation, RATANAKIRI, [Role.OFFICER])
    officer = Visitor(federation.api_url(RATANAKIRI), seen, f"{RATANAKIRI} console")
    try:
        await officer.sign_in(users[Role.OFFICER], users[Role.OFFICER] * 2)
        _, cases, _ = await officer.request("GET", "/console/cases", expect=200)
        links = sorted(set(re.findall(r'href="(/console/cases/[0-9a-f-]{36})"', cases)))
        assert links, cases[:2000]
        for link in links:
            await officer.request("GET", link, expect=200)
    finally:
        await officer.close()


async def _inbox_documents(federation: Federation, token: str, count: int) -> list[bytes]:
    """What the receiver's own system fetches (content is expected there, not checked)."""
    url = f"{federation.api_url(RATANAKIRI)}/api/v1/inbox"
    found: list[bytes] = []

    async def arrived() -> bool:
        found.clear()
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, headers={"Authorization": f"Bearer {token}"}) as response,
        ):
            page = await response.json()
        found.extend(item["document"].encode() for item in page["messages"] if item["document"])
        return len(found) >= count

    await _until(arrived, f"{count} messages in the receiver's inbox")
    return found


async def _collect(federation: Federation, seen: Exposure, server_log_start: int) -> None:
    # The nodes' databases are in the session's one embedded server: its log since this test
    # began is theirs (a node without a DSN keeps the same file in its state_dir).
    with (federation.postgres.data_dir / "log").open("rb") as server_log:
        server_log.seek(server_log_start)
        for line in server_log.read().decode("utf-8", errors="replace").splitlines():
            seen.add("database server log", line)
    for node in (POLICE, RATANAKIRI):
        for log_file in sorted((federation.root / node).glob("run*.log")):
            for line in log_file.read_text(encoding="utf-8").splitlines():
                seen.add(f"{node} log", line)
        for labels in metric_labels(await federation.metrics_text(node)):
            seen.add(f"{node} metric labels", labels)
        store = await federation.store(node)
        try:
            rows = await store.list_audit(limit=10_000)
        finally:
            await store.close()
        for text in audit_texts((row.subject, row.detail) for row in rows):
            seen.add(f"{node} audit row", text)


async def _stored_messages(federation: Federation, node: str) -> list[canonical.Message]:
    """Every message node sent or received, opened from the envelopes it keeps: what passed
    through it, whichever way it came in (API, drop folder, console)."""
    keyring = federation.keyring(node)
    store = await federation.store(node)
    opened: list[canonical.Message] = []
    try:
        for sent in await store.list_outbox(limit=10_000):
            found = await store.get_outbox(sent.message_id)
            # Nothing here is old enough for retention to have deleted its content.
            assert found is not None
            assert found[1] is not None
            payload = reopen_sent(keyring, found[1]).payload.message
            opened.append(canonical.Message.FromString(payload))
        for received in await store.list_inbox(limit=10_000):
            stored = await store.get_inbox(received.message_id)
            assert stored is not None
            assert stored[1] is not None
            payload = reopen_stored(keyring, stored[1]).payload.message
            opened.append(canonical.Message.FromString(payload))
    finally:
        await store.close()
    return opened


def _json_log_lines(federation: Federation, node: str) -> list[dict[str, Any]]:
    text = "".join(p.read_text() for p in sorted((federation.root / node).glob("run*.log")))
    return [json.loads(line) for line in text.splitlines()]


async def test_no_sample_content_reaches_logs_metrics_urls_errors_or_audit(
    federation: Federation, webhook: Webhook, tmp_path: Path
) -> None:
    seen = Exposure()
    server_log_start = (federation.postgres.data_dir / "log").stat().st_size
    rtk_token, expected = await _exchange(federation, webhook, tmp_path, seen)
    await _console_handover(federation, seen)
    inbox = await _inbox_documents(federation, rtk_token, expected + 1)

    async def kh_samples_delivered() -> bool:
        return len(webhook.received) >= 3

    await _until(kh_samples_delivered, "the police's 3 webhook calls")
    await _receiver_opens_cases(federation, seen)
    await _collect(federation, seen, server_log_start)

    sent = [(sample.format_id, sample.data) for sample in samples()]
    received = [("kh-police-xml", document) for document in inbox]
    delivered = [("vn-police-json", body) for _, body in webhook.received]
    found = secrets_of_documents([*sent, *received, *delivered])
    for node in (POLICE, RATANAKIRI):
        for message in await _stored_messages(federation, node):
            found |= secrets_of(message)
    # The console's victims came back through the receiver's inbox: extracted, not listed.
    assert set(CONSOLE_VICTIMS) <= found
    assert ESCORT_PHONE in found
    assert len(found) > 60
    assert seen.leaks(found) == []

    # The logs are there to be read: the JSON node wrote one object per line, DEBUG included,
    # the text node plain lines; both logged what happened.
    police_lines = _json_log_lines(federation, POLICE)
    assert {"node_up", "outgoing_file_queued"} <= {line["event"] for line in police_lines}
    assert all(line["node"] == POLICE for line in police_lines if "node" in line)
    requests = {
        (line["route"], "user" in line) for line in police_lines if line["event"] == "http_request"
    }
    assert {("/console/cases/{case_id}", True), ("/api/v1/messages/{message_id}", False)} <= (
        requests
    )
    rtk_log = "".join(p.read_text() for p in (federation.root / RATANAKIRI).glob("run*.log"))
    assert re.search(r"^\S+Z INFO gateway\.app node_up node=kh-ratanakiri-police ", rtk_log, re.M)
    assert not rtk_log.lstrip().startswith("{")


@pytest.mark.parametrize("where", ["log", "metric labels", "redirect", "audit row"])
def test_a_planted_leak_is_found(where: str) -> None:
    """The check fails when a secret shows, in whichever form it is written. (End to end it
    was proven by planting a log call that quoted each submitted message: 16 findings.)"""
    handover = next(sample for sample in samples() if sample.name == "handover.xml")
    [secret] = secrets_of_documents([("kh-police-xml", handover.data)]) & {"KEO Vanna"}
    seen = Exposure()
    seen.add(where, f'{{"event": "harmless", "peer": "{POLICE}"}}')
    assert seen.leaks([secret]) == []
    for form in (secret, secret.upper(), "KEO%20Vanna", json.dumps(secret)):
        planted = Exposure()
        planted.add(where, f"something {form} else")
        assert len(planted.leaks([secret])) == 1, form
