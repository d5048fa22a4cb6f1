"""Reading the console section: session timeouts and the sign-in lock-out.

Split from loader.py, which reads the rest of the file with the same walker.
"""

from __future__ import annotations

from datetime import timedelta

from gateway.config.converters import duration, integer_in
from gateway.config.schema import DEFAULT_CONSOLE, ConsoleConfig
from gateway.config.values import format_duration
from gateway.config.walker import Value

# Below a minute a session or a lock would end while the user is still reading the page.
_SHORTEST = timedelta(minutes=1)


def read_console(value: Value) -> ConsoleConfig:
    r = value.mapping()
    console = ConsoleConfig(
        session_idle_timeout=r.optional(
            "session_idle_timeout", duration, DEFAULT_CONSOLE.session_idle_timeout
        ),
        session_lifetime=r.optional("session_lifetime", duration, DEFAULT_CONSOLE.session_lifetime),
        lockout_after_failures=r.optional(
            "lockout_after_failures", integer_in(1, 100), DEFAULT_CONSOLE.lockout_after_failures
        ),
        lockout_duration=r.optional("lockout_duration", duration, DEFAULT_CONSOLE.lockout_duration),
    )
    for key in ("session_idle_timeout", "session_lifetime", "lockout_duration"):
        given: timedelta = getattr(console, key)
        if r.ok(key) and given < _SHORTEST:
            r.report(key, f"expected at least 1m, got {format_duration(given)}")
    idle, lifetime = console.session_idle_timeout, console.session_lifetime
    if r.ok("session_idle_timeout", "session_lifetime") and idle > lifetime:
        low, high = format_duration(lifetime), format_duration(idle)
        if r.has("session_idle_timeout"):
            r.report(
                "session_idle_timeout", f"expected at most session_lifetime ({low}), got {high}"
            )
        else:
            r.report(
                "session_lifetime", f"expected at least session_idle_timeout ({high}), got {low}"
            )
    r.finish()
    return console
