"""Identity and listener limits of real `gateway run` processes, probed over loopback.

Who may claim a peer (mutual TLS, pinned keys, both directions), and what a node does with
connections that hold its listeners: silent TLS handshakes, slow headers, slow bodies, more
connections than its cap, bodies beyond its budget of bytes in flight. Every attack here is
bounded in count and time and aimed at 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from gateway.federation.server import ENVELOPES_PATH, PROTOBUF, SENDER_HEADER
from tests.federation.harness import Federation, alert, local_client

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
LOOPBACK = "127.0.0.1"


def _impostor_ssl(federation: Federation, tmp_path: Path, claimed: str) -> ssl.SSLContext:
    """A client certificate from the federation's own CA that names `claimed`, on a new key."""
    cert = federation.ca.issue_cert(LOOPBACK, claimed)
    cert_file, key_file = tmp_path / f"impostor-{claimed}.pem", tmp_path / "impostor.key"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    context = ssl.create_default_context(cafile=str(federation.ca_file))
    context.load_cert_chain(str(cert_file), str(key_file))
    return context


async def _post(port: int, context: ssl.SSLContext, claimed: str, body: bytes) -> tuple[int, str]:
    url = f"https://{LOOPBACK}:{port}{ENVELOPES_PATH}"
    headers = {"Content-Type": PROTOBUF, SENDER_HEADER: claimed}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers, ssl=context) as response,
    ):
        text = await response.text()
        return response.status, text


def _envelope_start(length: int) -> bytes:
    """The start of an EnvelopeBatch entry announcing an envelope of length bytes, so that
    the bytes trickled after it are envelope content the endpoint must wait for, not a
    malformed batch it refuses at once."""
    varint = bytearray()
    while True:
        low, length = length & 0x7F, length >> 7
        varint.append(low | (0x80 if length else 0))
        if not length:
            return b"\x0a" + bytes(varint)


async def _metric(federation: Federation, node: str, name: str, labels: str) -> float:
    return federation.metric_value(await federation.metrics_text(node), name, labels)


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never: {what}")


async def test_a_peer_is_known_by_its_pinned_key_not_by_its_ca_or_header(
    federation: Federation, tmp_path: Path
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    federation.start(RATANAKIRI)
    await federation.wait_ready(RATANAKIRI)
    port = federation.nodes[RATANAKIRI].federation_port
    empty_batch = b""
    cases = [
        # (client certificate, claimed sender, status, reason code)
        (federation.client_ssl(POLICE), POLICE, 400, "malformed_request"),
        (_impostor_ssl(federation, tmp_path, POLICE), POLICE, 403, "client_certificate_not_pinned"),
        (federation.client_ssl(RATANAKIRI), POLICE, 403, "client_certificate_required"),
        (federation.client_ssl(None), POLICE, 403, "client_certificate_required"),
    ]
    for context, claimed, status, code in cases:
        answer = await _post(port, context, claimed, empty_batch)
        assert answer[0] == status, (code, answer)
        assert f'"code": "{code}"' in answer[1], (code, answer)
    receiver = await federation.store(RATANAKIRI)
    try:
        assert await receiver.list_inbox() == []
    finally:
        await receiver.close()


async def test_a_sender_does_not_talk_to_a_server_whose_key_is_not_pinned(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    wrong = hashlib.sha256(b"another key").hexdigest()
    federation.write_config(POLICE, pin_overrides={RATANAKIRI: wrong})
    for node in (RATANAKIRI, POLICE):
        federation.start(node)
        await federation.wait_ready(node)
    await federation.send(POLICE, RATANAKIRI, [alert("PIN-1")])
    sender = await federation.store(POLICE)

    async def failed() -> bool:
        return (await sender.destination(RATANAKIRI)).failures >= 1

    try:
        await _until(failed, "the sender records a failed attempt")
        # Refused inside the TLS handshake: not even the request line was sent.
        last_error = (await sender.destination(RATANAKIRI)).last_error
        assert last_error == "network: ClientConnectorCertificateError"
    finally:
        await sender.close()
    receiver = await federation.store(RATANAKIRI)
    try:
        assert await receiver.list_inbox() == []
    finally:
        await receiver.close()

    federation.kill(POLICE)
    federation.write_config(POLICE)
    federation.start(POLICE)
    await federation.wait_ready(POLICE)
    await federation.wait_delivered(POLICE, 1)


# Slow and numerous connections

SLOW_LIMITS = {
    "header_timeout": "1s",
    "body_timeout": "2s",
    "idle_timeout": "1s",
    "max_connections": 300,
    "max_body_bytes_in_flight": "2MiB",
}
# config check wants room in flight for one whole batch.
SLOW_BATCHES = {"limits": {"max_batch_bytes": "2MiB"}}
# Far above every deadline above, far below what an unguarded node holds a connection.
CLOSE_WITHIN = 8.0


async def _closed_within(reader: asyncio.StreamReader, trickle: Callable[[], None]) -> float:
    """Seconds until the server closed the connection, trickling a byte every 0.2 s."""
    started = time.monotonic()
    while time.monotonic() - started < CLOSE_WITHIN:
        try:
            if await asyncio.wait_for(reader.read(65536), timeout=0.2) == b"":
                return time.monotonic() - started
        except TimeoutError:
            trickle()
        except (ConnectionError, ssl.SSLError):
            return time.monotonic() - started
    raise AssertionError(f"connection still open after {CLOSE_WITHIN}s")


async def _open(
    port: int, context: ssl.SSLContext | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(
        LOOPBACK, port, ssl=context, server_hostname=LOOPBACK if context else None
    )


async def test_slow_handshakes_headers_and_bodies_are_closed_after_their_deadline(
    federation: Federation,
) -> None:
    token, client = local_client("case-system", ["canonical-json"])
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[RATANAKIRI] = {"local_clients": [client], **SLOW_BATCHES}
    federation.listen_limits[RATANAKIRI] = SLOW_LIMITS
    federation.write_config(RATANAKIRI)
    federation.start(RATANAKIRI)
    await federation.wait_ready(RATANAKIRI)
    node = federation.nodes[RATANAKIRI]
    fed_head = (
        f"POST {ENVELOPES_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: {PROTOBUF}\r\n"
        f"{SENDER_HEADER}: {POLICE}\r\nContent-Length: 100000\r\n\r\n"
    )
    api_head = (
        "POST /api/v1/messages?format=canonical-json HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Content-Length: 100000\r\n\r\n"
    )
    cases = [
        # (what, port, TLS client certificate of (None: no TLS at all), bytes sent at once,
        #  then one byte every 0.2 s, reason)
        ("silent TLS handshake", node.federation_port, None, b"", b"", "header_timeout"),
        (
            "slow federation headers",
            node.federation_port,
            POLICE,
            b"POST / HTTP/1.1\r\n",
            b"X",
            "header_timeout",
        ),
        (
            "slow federation body",
            node.federation_port,
            POLICE,
            fed_head.encode() + _envelope_start(90_000),
            b"\x00",
            "body_timeout",
        ),
        (
            "slow api headers",
            node.api_port,
            None,
            b"GET /healthz HTTP/1.1\r\n",
            b"X",
            "header_timeout",
        ),
        ("slow api body", node.api_port, None, api_head.encode(), b" ", "body_timeout"),
    ]
    for what, port, tls_as, first, drip, reason in cases:
        listener = "federation" if port == node.federation_port else "api"
        labels = f'listener="{listener}",reason="{reason}"'
        before = await _metric(
            federation, RATANAKIRI, "blg_listener_refused_connections_total", labels
        )
        context = None if tls_as is None else federation.client_ssl(tls_as)
        reader, writer = await _open(port, context)
        writer.write(first)

        def trickle(writer: asyncio.StreamWriter = writer, drip: bytes = drip) -> None:
            if drip and not writer.is_closing():
                writer.write(drip)

        await _closed_within(reader, trickle)
        writer.close()
        after = await _metric(
            federation, RATANAKIRI, "blg_listener_refused_connections_total", labels
        )
        assert after == before + 1, what
    # Nothing of the aborted requests reached the log as an exception.
    assert '"error": {' not in federation.log_tail(RATANAKIRI)


async def test_beyond_its_connection_cap_a_node_closes_new_connections_and_stays_healthy(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    federation.sections.setdefault(RATANAKIRI, {}).update(SLOW_BATCHES)
    federation.listen_limits[RATANAKIRI] = {**SLOW_LIMITS, "header_timeout": "60s"}
    federation.write_config(RATANAKIRI)
    federation.start(RATANAKIRI)
    await federation.wait_ready(RATANAKIRI)
    node = federation.nodes[RATANAKIRI]
    held = [await _open(node.federation_port, None) for _ in range(300)]
    try:

        async def all_counted() -> bool:
            labels = 'listener="federation"'
            return await _metric(federation, RATANAKIRI, "blg_listener_connections", labels) == 300

        await _until(all_counted, "the node counts the 300 held connections")
        for _ in range(20):
            reader, writer = await _open(node.federation_port, None)
            try:
                closed = await asyncio.wait_for(reader.read(), timeout=1)
            except ConnectionError:
                closed = b""
            assert closed == b""
            writer.close()
        started = time.monotonic()
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://{LOOPBACK}:{node.api_port}/healthz") as response,
        ):
            assert response.status == 200
        assert time.monotonic() - started < 1
    finally:
        for _, writer in held:
            writer.close()
    refused = await _metric(
        federation,
        RATANAKIRI,
        "blg_listener_refused_connections_total",
        'listener="federation",reason="connection_limit"',
    )
    assert refused == 20

    async def accepts_again() -> bool:
        answer = await _post(node.federation_port, federation.client_ssl(POLICE), POLICE, b"")
        return answer[0] == 400

    await _until(accepts_again, "the node serves peers again once the held connections go")


async def test_request_bodies_beyond_the_bytes_in_flight_are_answered_503(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    federation.sections.setdefault(RATANAKIRI, {}).update(SLOW_BATCHES)
    federation.listen_limits[RATANAKIRI] = {**SLOW_LIMITS, "body_timeout": "60s"}
    federation.write_config(RATANAKIRI)
    federation.start(RATANAKIRI)
    await federation.wait_ready(RATANAKIRI)
    port = federation.nodes[RATANAKIRI].federation_port
    held_length = 1536 * 1024
    _reader, writer = await _open(port, federation.client_ssl(POLICE))
    writer.write(
        (
            f"POST {ENVELOPES_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: {PROTOBUF}\r\n"
            f"{SENDER_HEADER}: {POLICE}\r\nContent-Length: {held_length}\r\n\r\n"
        ).encode()
        + _envelope_start(512 * 1024)
        + b"\x00" * 1024
    )

    async def in_flight(expected: int) -> bool:
        labels = 'listener="federation"'
        found = await _metric(federation, RATANAKIRI, "blg_listener_body_bytes_in_flight", labels)
        return found == expected

    try:
        await _until(lambda: in_flight(held_length), "the held body is counted")
        status, text = await _post(port, federation.client_ssl(POLICE), POLICE, b"\x00" * 2**20)
        assert status == 503
        assert '"code": "server_busy"' in text
    finally:
        writer.close()
    await _until(lambda: in_flight(0), "the held body's bytes are released")
    status, text = await _post(port, federation.client_ssl(POLICE), POLICE, b"\x00" * 2**20)
    assert (status, '"code": "malformed_request"' in text) == (400, True)


async def test_metrics_and_the_openapi_document_need_a_token_health_does_not(
    federation: Federation,
) -> None:
    token, client = local_client("case-system", ["canonical-json"])
    await federation.add(POLICE, RATANAKIRI)
    federation.sections[RATANAKIRI] = {"local_clients": [client]}
    federation.write_config(RATANAKIRI)
    federation.start(RATANAKIRI)
    await federation.wait_ready(RATANAKIRI)
    api = f"http://{LOOPBACK}:{federation.nodes[RATANAKIRI].api_port}"
    cases = [
        # (path, bearer token, status)
        ("/metrics", None, 401),
        ("/metrics", "not-a-token", 401),
        ("/metrics", federation.metrics_token, 200),
        ("/metrics", token, 200),
        ("/api/v1/openapi.json", None, 401),
        ("/api/v1/openapi.json", federation.metrics_token, 401),
        ("/api/v1/openapi.json", token, 200),
        ("/healthz", None, 200),
        ("/readyz", None, 200),
    ]
    async with aiohttp.ClientSession() as session:
        for path, bearer, status in cases:
            headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
            async with session.get(f"{api}{path}", headers=headers) as response:
                assert response.status == status, (path, bearer)
                if status == 401:
                    assert (await response.json())["error"]["code"] == "unauthorized"


async def test_out_of_descriptors_is_a_counted_line_not_a_traceback_per_accept(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    # A cap above what the process may open: the kernel, not the listener, says no first.
    federation.sections.setdefault(RATANAKIRI, {}).update(SLOW_BATCHES)
    federation.listen_limits[RATANAKIRI] = {
        **SLOW_LIMITS,
        "header_timeout": "60s",
        "max_connections": 1000,
    }
    federation.write_config(RATANAKIRI)
    federation.start(RATANAKIRI, open_files=200)
    await federation.wait_ready(RATANAKIRI)
    node = federation.nodes[RATANAKIRI]
    held = [await _open(node.federation_port, None) for _ in range(300)]
    try:

        async def complained() -> bool:
            return '"event": "accept_out_of_resources"' in federation.log_tail(RATANAKIRI)

        await _until(complained, "the node logs that accept() ran out of descriptors")
    finally:
        for _, writer in held:
            writer.close()
    log = federation.log_tail(RATANAKIRI)
    assert '"error": {' not in log
    assert log.count('"error_code": "EMFILE"') == 1

    async def counted() -> bool:
        labels = 'listener="any",reason="out_of_file_descriptors"'
        try:
            found = await _metric(
                federation, RATANAKIRI, "blg_listener_refused_connections_total", labels
            )
        except aiohttp.ClientError:
            return False
        return found >= 1

    await _until(counted, "the node counts the failed accepts and serves its API again")


async def test_the_local_api_can_serve_https(federation: Federation) -> None:
    await federation.add(POLICE, RATANAKIRI)
    federation.api_tls.add(RATANAKIRI)
    federation.write_config(RATANAKIRI)
    federation.start(RATANAKIRI)
    await federation.wait_ready(RATANAKIRI)
    api = federation.api_url(RATANAKIRI)
    assert api.startswith("https://")
    headers = {"Authorization": f"Bearer {federation.metrics_token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"{api}/metrics", headers=headers, ssl=federation.client_ssl()
        ) as response:
            assert response.status == 200
        plain = api.replace("https://", "http://")
        try:
            async with session.get(f"{plain}/healthz") as response:
                answered = response.status
        except aiohttp.ClientError:
            answered = None
        assert answered is None
