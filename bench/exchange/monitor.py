"""Who used the cores and how much memory the gateways held, per phase.

RSS of both gateway processes is sampled every 0.5 s for the whole run (peak per phase);
CPU seconds of each gateway, PostgreSQL (postmaster, backends and reaped backends), the
bench and the whole machine are read at each phase's start and end. The machine's busy time
that none of them used is "other": another workload competing for the cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.exchange.cluster import Cluster, log
from bench.exchange.targets import cpu_shares


class Monitor:
    """RSS of both gateways every interval (peaks per phase); CPU seconds per phase."""

    def __init__(self, cluster: Cluster, postgres_data_dir: Path, interval: float = 0.5) -> None:
        self._cluster = cluster
        self._interval = interval
        self._processes: dict[int, psutil.Process] = {}
        self._postmaster: psutil.Process | None = None
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info["cmdline"] or []
            if any(str(postgres_data_dir) in part for part in cmdline) and "-D" in cmdline:
                self._postmaster = process
                break
        self.phase = "setup"
        self.rss_peak: dict[str, dict[str, int]] = {}
        self.samples = 0

    def _process(self, pid: int) -> psutil.Process:
        if pid not in self._processes:
            self._processes[pid] = psutil.Process(pid)
        return self._processes[pid]

    def sample(self) -> None:
        peaks = self.rss_peak.setdefault(self.phase, {})
        for node_id in self._cluster.nodes:
            pid = self._cluster.pid(node_id)
            if pid is None:
                continue
            with contextlib.suppress(psutil.Error):
                rss = int(self._process(pid).memory_info().rss)
                peaks[node_id] = max(peaks.get(node_id, 0), rss)
        self.samples += 1

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self._interval)

    def peak(self, node_id: str, phases: Sequence[str] | None = None) -> int:
        return max(
            (
                peaks.get(node_id, 0)
                for phase, peaks in self.rss_peak.items()
                if phases is None or phase in phases
            ),
            default=0,
        )

    def cpu(self) -> dict[str, tuple[int, float]]:
        """(pid, user+system CPU seconds so far) of each gateway, PostgreSQL and the bench."""
        found: dict[str, tuple[int, float]] = {}
        for node_id in self._cluster.nodes:
            pid = self._cluster.pid(node_id)
            if pid is not None:
                with contextlib.suppress(psutil.Error):
                    times = self._process(pid).cpu_times()
                    found[node_id] = (pid, float(times.user + times.system))
        if self._postmaster is not None:
            with contextlib.suppress(psutil.Error):
                # Exited backends are folded into the postmaster's children_* when reaped.
                times = self._postmaster.cpu_times()
                total = float(
                    times.user + times.system + times.children_user + times.children_system
                )
                for child in self._postmaster.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        child_times = child.cpu_times()
                        total += float(child_times.user + child_times.system)
                found["postgres"] = (self._postmaster.pid, total)
        own = os.times()
        found["bench"] = (os.getpid(), own.user + own.system)
        # Process time of the whole machine (user, nice, system; not irq/softirq, which are
        # not charged to any process, nor steal): what is not ours is another workload's.
        machine = psutil.cpu_times()
        found["machine"] = (0, float(machine.user + machine.nice + machine.system))
        # Time the hypervisor gave our virtual CPUs to someone else (0 on bare metal).
        found["steal"] = (0, float(getattr(machine, "steal", 0.0)))
        return found


@dataclass
class CpuUse:
    """CPU seconds each process used during one phase, and the phase's wall time."""

    phase: str
    wall_seconds: float
    cpu_seconds: dict[str, float]

    def shares(self) -> dict[str, float]:
        return cpu_shares(self.cpu_seconds, self.wall_seconds)

    @property
    def other(self) -> float:
        return self.shares()["other"]


@contextlib.asynccontextmanager
async def phase(monitor: Monitor, name: str, cpu: list[CpuUse]) -> AsyncIterator[None]:
    monitor.phase = name
    before = monitor.cpu()
    started = time.perf_counter()
    log(f"phase: {name}")
    yield
    after = monitor.cpu()
    used: dict[str, float] = {}
    for who, (pid, seconds) in after.items():
        start_pid, start_seconds = before.get(who, (None, 0.0))
        used[who] = seconds - start_seconds if start_pid == pid else seconds
    use = CpuUse(name, time.perf_counter() - started, used)
    cpu.append(use)
    monitor.sample()
    log(f"phase {name}: {use.wall_seconds:.0f} s, other CPU {use.other:.0%} of a core")
