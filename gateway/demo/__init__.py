"""`gateway demo`: the first federation's four nodes on one machine, exchanging real samples.

The demo is a guided tour, not a test double: it makes keys and configs the way operators do
(federation.py), starts one embedded PostgreSQL with a database per node, runs each node as a
separate `gateway run` process (processes.py), submits canonical versions of the partners'
sample messages through each sender's own database (routes.py, exchange.py), and shows each
message reaching its signed receipt. Everything runs on 127.0.0.1 over plain HTTP, which the
config loader allows on loopback only; everything it starts is stopped when it ends (runner.py).
Left running, it is a place to try things by hand: console users for every role and a local
API client on every node, their secrets in one 0600 file, and a printed `curl` (newcomer.py).

It shows operators' facts only (nodes, kinds, references, states, times), never what the
messages say: the samples are fictional, but the habit is the one production needs.
"""

from __future__ import annotations

from gateway.demo.routes import DEMO_ROUTES, DemoRoute, load_sample
from gateway.demo.runner import DemoError, DemoOptions, run_demo

__all__ = ["DEMO_ROUTES", "DemoError", "DemoOptions", "DemoRoute", "load_sample", "run_demo"]
