"""Mutual TLS per peer and whole-request refusals, between real gateway processes."""

from __future__ import annotations

import asyncio

from tests.federation.harness import Federation, alert

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"


async def _outbox_states(federation: Federation, node: str) -> list[tuple[str, str | None]]:
    store = await federation.store(node)
    try:
        return [(row.state, row.last_error) for row in await store.list_outbox()]
    finally:
        await store.close()


async def _wait_for_state(
    federation: Federation, node: str, state: str
) -> list[tuple[str, str | None]]:
    for _ in range(150):
        rows = await _outbox_states(federation, node)
        if rows and all(s == state for s, _ in rows):
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"outbox of {node} never reached {state}: {rows}")


async def test_a_peer_marked_mutual_must_present_its_client_certificate(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    federation.write_config(POLICE, present_client_cert=False)
    for node in (POLICE, RATANAKIRI):
        federation.start(node)
        await federation.wait_ready(node)
    await federation.send(POLICE, RATANAKIRI, [alert("TB-1")])
    [(_, error)] = await _wait_for_state(federation, POLICE, "rejected")
    assert error == f"refused by {RATANAKIRI}: http_403: client_certificate_required"

    federation.kill(POLICE)
    federation.write_config(POLICE)
    federation.start(POLICE)
    await federation.wait_ready(POLICE)
    await federation.send(POLICE, RATANAKIRI, [alert("TB-2")])
    await federation.wait_delivered(POLICE, 1)


async def test_a_whole_request_refusal_ends_the_batch_as_rejected_and_backs_off(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    # Ratanakiri does not list the police as a peer: it refuses the request outright.
    federation.write_config(RATANAKIRI, omit_peers=[POLICE])
    for node in (POLICE, RATANAKIRI):
        federation.start(node)
        await federation.wait_ready(node)
    await federation.send(POLICE, RATANAKIRI, [alert(f"TB-{i}") for i in range(3)])
    rows = await _wait_for_state(federation, POLICE, "rejected")
    assert {error for _, error in rows} == {f"refused by {RATANAKIRI}: http_403: unknown_peer"}
    store = await federation.store(POLICE)
    try:
        destination = await store.destination(RATANAKIRI)
        assert destination.failures >= 1
        assert destination.last_error == "http_403: unknown_peer"
        assert (await store.verify_audit()).intact
    finally:
        await store.close()
