"""Bidi controls in shown text end with the value that holds them.

A name, note or place sent by a peer may hold Unicode's explicit direction controls: an
override (U+202E RIGHT-TO-LEFT OVERRIDE) left open reverses everything after it on the same
line of the page, so "ABC\u202e" as a name shows the Latin name beside it, the birth date
or a phone number backwards. Every value a template prints goes through `closed()` (the
Jinja environment's finalize): an embedding, override or isolate the value opens is closed
at its end, so it acts inside the value only. Text without these controls, which is all
text the console's own forms accept, is left exactly as it is; nothing is removed, so what
the sender wrote is still what is shown.
"""

from __future__ import annotations

import re

from markupsafe import Markup

# LRE, RLE, LRO, RLO close with PDF; LRI, RLI, FSI close with PDI (Unicode UAX #9).
EMBEDDINGS = "\u202a\u202b\u202d\u202e"
ISOLATES = "\u2066\u2067\u2068"
PDF = "\u202c"
PDI = "\u2069"
BIDI_OPENERS = EMBEDDINGS + ISOLATES
BIDI_CLOSERS = PDF + PDI
_CONTROL = re.compile(f"[{BIDI_OPENERS}{BIDI_CLOSERS}]")


def closed(text: str) -> str:
    """text with a closer appended for each bidi control it leaves open."""
    if not _CONTROL.search(text):
        return text
    stack: list[str] = []
    for char in _CONTROL.findall(text):
        if char in EMBEDDINGS:
            stack.append(PDF)
        elif char in ISOLATES:
            stack.append(PDI)
        elif char == PDF:
            if stack and stack[-1] == PDF:
                stack.pop()
        elif PDI in stack:
            # An isolate's end also ends the embeddings opened inside it.
            while stack.pop() != PDI:
                pass
    return text + "".join(reversed(stack))


def finalize(value: object) -> object:
    """Jinja's finalize: plain strings closed; markup (already finalized parts) and other
    values left to Jinja."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return closed(value)
    return value


__all__ = ["BIDI_CLOSERS", "BIDI_OPENERS", "closed", "finalize"]
