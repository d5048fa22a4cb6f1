"""The `gateway` command: one entry point with a subcommand per operator task.

Each subcommand lives in its own module with two functions, `register(subparsers)` to declare
its arguments and a `run(args) -> int` that returns the exit code, so that main.py only wires
them and tests can call them in-process. Errors meant for operators are printed as single
lines on stderr; no traceback reaches a terminal for bad input.
"""

from __future__ import annotations
