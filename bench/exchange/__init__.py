"""Benchmark of the whole path, from a police system's request to the peer's signed
receipt: two real gateway processes exchanging ~1 KiB envelopes over HTTPS (issue 10).

Run by hand from the repository root, never by the test suite:

    .venv/bin/python -m bench.exchange                  # every phase (25-35 minutes)
    .venv/bin/python -m bench.exchange --quick          # every phase scaled down (~1.5 minutes)
    .venv/bin/python -m bench.exchange --only api,backlog --json out.json
    .venv/bin/python -m bench.exchange --profile exchange   # in-process: SQL per batch + cProfile
    .venv/bin/python -m bench.exchange --profile api        # in-process: time per API stage

Set-up (cluster.py): ONE embedded PostgreSQL holds both nodes' databases; the sender
vn-gialai-police and the receiver kh-ratanakiri-police are `gateway run` subprocesses whose
federation listeners speak HTTPS with mutual TLS and pinned keys (trustme certificates);
their configs come from the gateway's one config writer, as in tests/federation/harness.py.
Node config: retry batch_size 100 (--batch-size), backoff 100 ms doubling to 2 s, per-peer
rate limit 1,000 requests/s (--rate-limit) and as many envelopes/s as full batches carry.
The bench queues messages itself and reads the sender's database directly.

Phases, in this order (--only picks some; each module's docstring says exactly what it
measures):
  ceilings    crypto and bare-asyncpg ceilings on one Python thread (ceilings.py)
  throughput  N pre-queued envelopes, first claim -> last receipt (phases.py)
  submit      Dispatcher.submit closed loop, 64 callers, sustained rate (phases.py)
  api         POST /api/v1/messages: accepted rate with 16 clients; latency at 1,000 msg/s
              offered, request start -> receipt stored at the sender (api.py)
  backlog     100,000 envelopes queued with the receiver down, then drained (phases.py)
  backlog-1m  the same with 1,000,000: drain rate vs the 100,000 one, peak RSS (phases.py)
  history     throughput with 10 M delivered rows in the outbox vs empty (history.py)

Every figure is printed beside its issue-10 target with met / MISSED, and the CPU each
process used in each phase (monitor.py); a target whose phase had other CPU (another
workload) above 10 % of a core reads "repeat: machine busy" instead (targets.py, report.py).
Every long step logs progress to standard error.
"""
