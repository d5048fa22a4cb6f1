"""`gateway demo` from start to finish, with every resource released in one place.

Each thing the demo starts (its work directory, the embedded PostgreSQL, the node processes,
its own database connections) is registered on one exit stack the moment it exists, so leaving
by any path (success, a node that will not start, a refused sample, an unexpected exception,
Ctrl-C) unwinds them in reverse order: connections closed, nodes stopped, PostgreSQL stopped,
the temporary directory removed. No process of the demo outlives it.

SIGINT and SIGTERM are the normal way to end a demo left running, and an abort while it is
still starting up. While the demo waits for them they just end the wait; at any other moment
the first one cancels the demo's task, which runs the same unwinding. Later signals are
ignored, so a second Ctrl-C cannot cut the clean-up short and leave nodes behind.

Expected failures end as one line on stderr (plus the tail of a node's log when a node is
the problem); only a bug shows a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TextIO

from gateway.console import Role
from gateway.demo.exchange import (
    DELIVERY_TIMEOUT_SECONDS,
    DeliveryReport,
    SendError,
    print_table,
    send_samples,
    upload_placeholders,
    wait_for_delivery,
)
from gateway.demo.federation import (
    DEMO_AGENCIES,
    DemoNode,
    DemoSetupError,
    make_federation_configs,
    metrics_token_file,
)
from gateway.demo.newcomer import (
    CURL_ROUTE,
    create_users,
    curl_command,
    place_curl_sample,
    print_newcomer_guide,
    write_users_file,
)
from gateway.demo.processes import NodeFailedError, start_nodes, wait_until_ready
from gateway.demo.routes import DEMO_ROUTES, SampleError, load_sample
from gateway.store import EmbeddedPostgres, Store, start_embedded


class DemoError(Exception):
    """An expected failure: `str()` is the one line to show; `details` may precede it."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True)
class DemoOptions:
    """What `gateway demo` was asked for."""

    workdir: Path | None  # None: a temporary directory, removed at the end
    once: bool  # True: stop after the exchange; False: keep running until a signal


class StopSignals:
    """SIGINT/SIGTERM: end `wait()` when waiting, otherwise cancel the demo's task once."""

    def __init__(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("StopSignals must be created inside a task")
        self._task = task
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._waiting = False
        self.received: signal.Signals | None = None

    def __enter__(self) -> StopSignals:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._loop.add_signal_handler(signum, self._on_signal, signum)
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._loop.remove_signal_handler(signum)

    def _on_signal(self, signum: signal.Signals) -> None:
        if self.received is not None:
            return  # already stopping: let the clean-up finish
        self.received = signum
        self._stop.set()
        if not self._waiting:
            self._task.cancel()

    def interrupted(self) -> bool:
        """True when a signal cancelled the task; forgets that cancellation."""
        if self.received is None:
            return False
        self._task.uncancel()
        return True

    async def wait(self) -> None:
        """Until SIGINT or SIGTERM."""
        self._waiting = True
        try:
            await self._stop.wait()
        finally:
            self._waiting = False


async def run_demo(options: DemoOptions, out: TextIO = sys.stdout) -> int:
    """Run the demo; 0 when every message was delivered with a receipt, 1 when not.

    Raises DemoError for expected failures, after everything started has been stopped.
    """
    with StopSignals() as signals:
        try:
            return await _run(options, signals, out)
        except asyncio.CancelledError:
            if not signals.interrupted():
                raise
            assert signals.received is not None
            print(
                f"demo: interrupted by {signals.received.name}; stopped everything it started",
                file=out,
            )
            return 128 + signals.received.value
        except NodeFailedError as failed:
            where = (
                f"its log: {failed.log_file}"
                if options.workdir is not None
                else "run with --workdir DIR to keep its log"
            )
            raise DemoError(f"{failed}; {where}", failed.log_tail) from None
        except (SendError, SampleError, DemoSetupError) as error:
            raise DemoError(str(error)) from None
        except OSError as error:
            where = f"{error.filename}: " if error.filename else ""
            raise DemoError(f"{where}{error.strerror or error}") from None


async def _run(options: DemoOptions, signals: StopSignals, out: TextIO) -> int:
    async with contextlib.AsyncExitStack() as cleanup:
        workdir = cleanup.enter_context(demo_workdir(options.workdir, out))
        print(f"demo: work directory {workdir}", file=out)

        postgres = await start_postgres(workdir / "postgres")
        cleanup.callback(postgres.stop)
        dsns = {agency.id: await postgres.ensure_database(agency.id) for agency in DEMO_AGENCIES}
        print(f"demo: PostgreSQL running, one database per node ({len(dsns)})", file=out)

        nodes = make_federation_configs(workdir, dsns)
        running = cleanup.enter_context(start_nodes(nodes))
        await wait_until_ready(running)
        print(f"demo: {len(running)} nodes ready: {', '.join(node.id for node in nodes)}", file=out)

        stores: dict[str, Store] = {}
        for node in nodes:
            stores[node.id] = await Store.connect(dsns[node.id], min_size=1, max_size=2)
            cleanup.push_async_callback(stores[node.id].close)
        users = await create_users(nodes, stores)
        users_file = write_users_file(workdir, users, nodes)
        print(
            f"demo: {len(users)} console users created ({len(Role)} roles on each node)",
            file=out,
        )
        sent = await send_samples(DEMO_ROUTES, {node.id: node for node in nodes}, stores)
        print(
            f"demo: {len(DEMO_ROUTES)} partner samples queued as {len(sent)} messages; "
            "waiting for their signed receipts",
            file=out,
        )

        reports = await wait_for_delivery(sent, stores, DELIVERY_TIMEOUT_SECONDS)
        print(file=out)
        print_table(reports, out)
        print(file=out)
        all_delivered = report_outcome(reports, DELIVERY_TIMEOUT_SECONDS, out)

        if not options.once:
            print_running_federation(nodes, workdir, out)
            sender = next(node for node in nodes if node.id == CURL_ROUTE.sender)
            # The sample names a scan: uploaded for the curl's client, as its system would.
            for message in load_sample(CURL_ROUTE):
                await upload_placeholders(
                    stores[sender.id], sender.config, sender.api_client.id, message
                )
            curl = curl_command(sender, place_curl_sample(workdir))
            print(file=out)
            print_newcomer_guide(nodes, users_file, curl, out)
            print("Press Ctrl-C (or send SIGTERM) to stop the nodes and PostgreSQL.", file=out)
            await signals.wait()
            print("demo: stopping the nodes and PostgreSQL", file=out)
        return 0 if all_delivered else 1
    # AsyncExitStack may swallow exceptions in general, so mypy wants this; ours never does.
    raise AssertionError("unreachable")


@contextlib.contextmanager
def demo_workdir(requested: Path | None, out: TextIO) -> Iterator[Path]:
    """The given directory (new or empty, kept afterwards), or a temporary one (removed)."""
    if requested is not None:
        workdir = requested.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        if any(workdir.iterdir()):
            raise DemoError(f"--workdir {workdir} is not empty; give a new or empty directory")
        try:
            yield workdir
        finally:
            print(f"demo: kept the work directory {workdir}", file=out)
        return
    workdir = Path(tempfile.mkdtemp(prefix="blg-demo-")).resolve()
    try:
        yield workdir
    finally:
        try:
            shutil.rmtree(workdir)
        except OSError as error:
            print(f"demo: could not remove {workdir}: {error.strerror or error}", file=out)


async def start_postgres(data_dir: Path) -> EmbeddedPostgres:
    try:
        return await start_embedded(data_dir)
    # pg_ctl failing or timing out, or the wheel's own asserts on the server's state.
    except (subprocess.SubprocessError, OSError, AssertionError) as error:
        raise DemoError(
            f"cannot start the embedded PostgreSQL in {data_dir} ({type(error).__name__}); "
            f"its log: {data_dir / 'log'}"
        ) from None


def report_outcome(reports: Sequence[DeliveryReport], timeout_seconds: float, out: TextIO) -> bool:
    """Say whether every message was delivered and receipted; name the ones that were not."""
    missing = [report for report in reports if not report.delivered]
    if not missing:
        print(f"demo: all {len(reports)} messages delivered, each with a signed receipt", file=out)
        return True
    print(
        f"demo: {len(missing)} of {len(reports)} messages not delivered with a receipt "
        f"within {timeout_seconds:.0f} s:",
        file=out,
    )
    for report in missing:
        sent = report.sent
        print(
            f"  {sent.message_id} {sent.sender} -> {sent.recipient}: {report.state}"
            f"{f' ({report.last_error})' if report.last_error else ''}",
            file=out,
        )
    return False


def print_running_federation(nodes: Sequence[DemoNode], workdir: Path, out: TextIO) -> None:
    rows: Mapping[str, tuple[str, str]] = {
        node.id: (f"{node.operations_url}/metrics", str(node.log_file)) for node in nodes
    }
    width = max(len(node_id) for node_id in rows)
    print(
        "The federation keeps running. Each node's metrics (send Authorization: Bearer "
        f"$(cat {metrics_token_file(workdir)})) and log:",
        file=out,
    )
    for node_id, (metrics, log) in rows.items():
        print(f"  {node_id.ljust(width)}  {metrics}  {log}", file=out)
    example = nodes[0].config_file
    print(
        f"Configs are in {workdir}/<node>/node.yaml; try `gateway outbox list --config {example}`.",
        file=out,
    )
