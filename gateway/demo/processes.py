"""The demo's nodes as real processes: `gateway run --config FILE`, one per node.

Each node runs as the installed `gateway` command, exactly as an agency would run it, so the
demo exercises start-up, signals and shutdown and not an in-process shortcut. The command is
the console script beside the running interpreter: `python -m gateway.cli.main` would not run
(the module has no `__main__` guard), and a `gateway` found on PATH could belong to another
installation.

Nodes start in their own session, so Ctrl-C in the terminal reaches the demo only; the demo
then stops the nodes itself (SIGTERM, a grace period, SIGKILL for any that hang) before it stops
PostgreSQL, which a node still running would otherwise see disappear under it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import aiohttp

from gateway.demo.federation import DemoNode

READY_TIMEOUT_SECONDS = 30.0
READY_POLL_SECONDS = 0.2
STOP_GRACE_SECONDS = 10.0
LOG_TAIL_LINES = 20


@dataclass
class RunningNode:
    """A started node process and the log file it writes to."""

    node: DemoNode
    process: subprocess.Popen[bytes]
    log: IO[bytes]


class NodeFailedError(Exception):
    """A node exited or never became ready; `log_tail` holds the end of its log, read now."""

    def __init__(self, message: str, log_file: Path) -> None:
        super().__init__(message)
        self.log_file = log_file
        self.log_tail = log_tail(log_file)


def gateway_command() -> Path:
    """The `gateway` console script of the interpreter running the demo."""
    return Path(sys.executable).parent / "gateway"


@contextlib.contextmanager
def start_nodes(nodes: Sequence[DemoNode]) -> Iterator[list[RunningNode]]:
    """Start every node; on leaving, stop every one that was started, whatever happened."""
    running: list[RunningNode] = []
    try:
        for node in nodes:
            running.append(_start_node(node))
        yield running
    finally:
        stop_nodes(running)


def _start_node(node: DemoNode) -> RunningNode:
    log = node.log_file.open("ab")
    try:
        process = subprocess.Popen(
            # Text: the demo shows a failed node's log to a person at a terminal.
            [
                str(gateway_command()),
                "run",
                "--config",
                str(node.config_file),
                "--log-format",
                "text",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=node.directory,
            start_new_session=True,
        )
    except BaseException:
        log.close()
        raise
    return RunningNode(node, process, log)


def stop_nodes(running: Sequence[RunningNode]) -> None:
    """SIGTERM to all at once, wait for each within one shared grace period, then SIGKILL."""
    for started in running:
        if started.process.poll() is None:
            started.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for started in running:
        try:
            started.process.wait(timeout=max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            started.process.kill()
            started.process.wait()
        finally:
            started.log.close()


async def wait_until_ready(running: Sequence[RunningNode]) -> None:
    """Return once every node answers GET /readyz with 200; NodeFailedError otherwise."""
    timeout = aiohttp.ClientTimeout(total=2.0)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(_wait_until_ready(session, started) for started in running))


async def _wait_until_ready(session: aiohttp.ClientSession, started: RunningNode) -> None:
    node = started.node
    url = f"{node.operations_url}/readyz"
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        code = started.process.poll()
        if code is not None:
            raise NodeFailedError(
                f"node {node.id} exited with code {code} while starting", node.log_file
            )
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.get(url) as response:
                if response.status == 200:
                    return
        if time.monotonic() > deadline:
            raise NodeFailedError(
                f"node {node.id} not ready after {READY_TIMEOUT_SECONDS:.0f} s (GET {url})",
                node.log_file,
            )
        await asyncio.sleep(READY_POLL_SECONDS)


def log_tail(log_file: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a node's log, or a note saying why there are none."""
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        return f"(cannot read {log_file}: {error.strerror or error})"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(the log is empty)"
