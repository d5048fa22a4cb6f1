"""What every cell of the fault matrix shares: a sender and a receiver node, a bounded batch
of messages, and the verdict "each message exactly once, every receipt valid, both audit
chains intact", checked the way an operator would (the stores, the drop folder and
`gateway audit verify` run as a process).

A cell applies its fault while messages flow, waits (polling, bounded) for evidence that the
fault really hit the exchange, removes it, then waits for every message to be receipted.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml.comments import CommentedMap

from gateway.config.writer import edit_config
from gateway.crypto import verify_receipt
from gateway.federation.outgoing import Queued
from gateway.store import Store
from tests.federation.harness import GATEWAY, Federation, alert, local_client
from tests.federation.test_exchange import POLICE, RATANAKIRI

SENDER, RECEIVER = POLICE, RATANAKIRI
LOCAL_CLIENT = "police-records"


@dataclass
class Exchange:
    """A federation of SENDER and RECEIVER; the receiver drops every message into a folder."""

    federation: Federation
    drop_folder: Path

    @classmethod
    async def create(
        cls, federation: Federation, drop_folder: Path | None = None, batch_size: int = 50
    ) -> Exchange:
        federation.retry = {
            "initial_backoff": "50ms",
            "max_backoff": "1s",
            "batch_size": batch_size,
        }
        folder = drop_folder or federation.root / "drop"
        _, client = local_client(LOCAL_CLIENT, ["canonical-json"])
        client["delivery"] = {"type": "drop_folder", "path": str(folder)}
        federation.sections[RECEIVER] = {"local_clients": [client]}
        await federation.add(SENDER, RECEIVER)
        return cls(federation, folder)

    async def start(self, *node_ids: str) -> None:
        for node_id in node_ids:
            self.federation.start(node_id)
        for node_id in node_ids:
            await self.federation.wait_ready(node_id)

    def route_through(self, port: int) -> None:
        """Point the sender's peer URL at 127.0.0.1:port (a proxy) instead of the receiver."""

        def reroute(document: CommentedMap) -> None:
            for peer in document["peers"]:
                if peer["id"] == RECEIVER:
                    peer["url"] = f"https://127.0.0.1:{port}/"

        edit_config(self.federation.config_path(SENDER), reroute, environ={})

    async def send(self, count: int, tag: str) -> list[Queued]:
        return await self.federation.send(
            SENDER, RECEIVER, [alert(f"{tag}-{i}") for i in range(count)]
        )

    async def queue_then_start(self, count: int, tag: str) -> list[Queued]:
        """Queue count messages with the sender stopped, then start both nodes: the whole
        run is then ahead, in batches, for a fault to land in the middle of."""
        await self.start(RECEIVER)
        queued = await self.send(count, tag)
        await self.start(SENDER)
        return queued

    async def delivered(self) -> int:
        return await self.federation.delivered_count(SENDER)

    async def wait_delivered_between(self, low: int, high: int, timeout: float = 30) -> int:
        """Until the sender counts low..high-1 delivered (the fault must land mid-run)."""
        delivered = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            delivered = await self.delivered()
            if low <= delivered < high:
                return delivered
            await asyncio.sleep(0.05)
        raise AssertionError(f"delivered stayed outside [{low}, {high}): {delivered}")

    async def metric(self, node_id: str, name: str, **labels: str) -> float:
        """Sum of a counter's samples on node_id's /metrics whose labels include labels."""
        text = await self.federation.metrics_text(node_id)
        wanted = [f'{key}="{value}"' for key, value in labels.items()]
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name + "{") and all(label in line for label in wanted)
        )

    async def wait_metric(
        self, node_id: str, name: str, *, timeout: float = 30, **labels: str
    ) -> float:
        """Until the counter is above 0 on node_id (bounded); its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await self.metric(node_id, name, **labels)
            if value > 0:
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"{name} {labels} stayed 0 on {node_id} for {timeout}s")

    async def assert_exactly_once(self, queued: list[Queued], timeout: float = 90) -> None:
        """Every queued message delivered once: receipts valid, inbox and drop folder exact,
        each audit chain intact with one entry per message and step."""
        federation, count = self.federation, len(queued)
        await federation.wait_delivered(SENDER, count, timeout=timeout)
        expected = {q.message_id for q in queued}
        sender, receiver = await federation.store(SENDER), await federation.store(RECEIVER)
        try:
            receiver_keys = federation.keyring(SENDER).peer_keys(RECEIVER)
            rows = await sender.list_outbox(limit=count * 2)
            assert Counter(row.state for row in rows) == {"delivered": count}
            for item in queued:
                found = await sender.get_outbox(item.message_id)
                assert found is not None
                _, envelope_data, receipt = found
                assert receipt is not None
                facts = verify_receipt(
                    receipt,
                    receiver=RECEIVER,
                    receiver_keys=receiver_keys,
                    envelope_data=envelope_data,
                )
                assert (facts.accepted, facts.message_id) == (True, item.message_id)
            inbox = await receiver.list_inbox(limit=count * 2)
            assert len(inbox) == count
            assert {row.message_id for row in inbox} == expected
            sent = await _intact_audit(sender, count)
            assert (sent["outbox.queued"], sent["outbox.delivered"]) == (count, count), sent
            await _wait(
                lambda: _locally_delivered(receiver, count),
                timeout,
                "every message delivered into the drop folder",
            )
            received = await _intact_audit(receiver, count)
            assert received["inbox.received"] == count, received
            assert received["local.delivered"] == count, received
        finally:
            await sender.close()
            await receiver.close()
        files = [path.name for path in self.drop_folder.iterdir() if not path.name.startswith(".")]
        assert len(files) == count
        assert {_message_id_of(name) for name in files} == {str(m) for m in expected}
        verdicts = await asyncio.gather(
            *(
                gateway_cli("audit", "verify", "--config", str(federation.config_path(node_id)))
                for node_id in (SENDER, RECEIVER)
            )
        )
        for code, output in verdicts:
            assert code == 0, output
            assert "audit chain intact" in output, output


async def _intact_audit(store: Store, count: int) -> Counter[str]:
    """The audit chain verified, and its entries counted by action (a handful per message:
    the limit leaves room, so that a long chaos run is counted whole)."""
    verdict = await store.verify_audit()
    assert verdict.intact, verdict
    return Counter(entry.action for entry in await store.list_audit(limit=count * 4 + 100))


async def _locally_delivered(receiver: Store, count: int) -> bool:
    actions = Counter(entry.action for entry in await receiver.list_audit(limit=count * 4 + 100))
    return actions["local.delivered"] >= count


def _message_id_of(file_name: str) -> str:
    """The message id in a drop folder file name `<kind>-<message id>.<extension>`."""
    stem = file_name.rsplit(".", 1)[0]
    return "-".join(stem.split("-")[-5:])


async def _wait(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what}")


async def gateway_cli(*args: str) -> tuple[int, str]:
    """Run the `gateway` command as an operator would; its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        GATEWAY,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")
