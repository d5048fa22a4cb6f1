"""A small, safe XML reader that keeps each element's line number and XPath-like path.

ElementTree drops line numbers, and problems must say where they are (`line 12:
/Notice/Subject/Person/Born`), so the tree is built here from expat's callbacks. Documents
come from other agencies' systems, so nothing in them is trusted: a DOCTYPE (and with it every
entity declaration, the vehicle of "billion laughs" and external-entity attacks) is refused
outright rather than parsed carefully, external entities are never fetched, an encoding other
than UTF-8 is refused rather than guessed, and nesting depth is bounded so that a hostile
document cannot make the decoder's recursion fail.

Size is bounded while parsing, not after: the document's bytes first, then elements,
attributes and text are counted in expat's callbacks and the parse stops at the first bound
exceeded (DocumentTooComplex naming the line and path), so 10 MB of empty elements never
becomes a tree of millions of nodes. At the bounds (MESSAGE_LIMITS: 1 MiB, 10,000 elements)
a parse takes some tens of milliseconds and a few MB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.parsers import expat

from adapters.base import DocumentInvalid, DocumentTooComplex, Problem
from adapters.common.limits import MESSAGE_LIMITS, check_deadline, check_size, too_complex

# Far deeper than any real notice (which nests five levels), shallow enough to be harmless.
MAX_DEPTH = 64
LIMITS = MESSAGE_LIMITS
# Attributes per element: the format uses at most three; expat builds them all before the
# callback sees them, so their number is bounded by the byte size only, and checked here.
MAX_ATTRIBUTES = 32
_SEPARATOR = " "  # expat joins namespace and local name with it; no URI holds a space


@dataclass
class Node:
    """One element: its expanded name, attributes, text, children and where it starts."""

    namespace: str
    name: str
    attributes: dict[str, str]
    line: int
    path: str = ""
    children: list[Node] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.text_parts)


class _Refused(Exception):  # noqa: N818 - internal signal carrying the problem
    def __init__(self, message: str, limit: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.limit = limit


def _split(expanded: str) -> tuple[str, str]:
    namespace, _, local = expanded.rpartition(_SEPARATOR)
    return namespace, local


def _attribute_name(expanded: str) -> str:
    # Unqualified attributes (all the format uses) keep their plain name; qualified ones are
    # shown in Clark notation so they cannot be mistaken for the format's own.
    namespace, local = _split(expanded)
    return f"{{{namespace}}}{local}" if namespace else local


def _open_path(stack: list[Node]) -> str:
    """Path of the innermost open element, indexed by position among same-named siblings so
    far (the later siblings are not known yet when the parser stops)."""
    parts: list[str] = []
    for depth, node in enumerate(stack):
        if depth == 0:
            parts.append(node.name)
            continue
        same = [child for child in stack[depth - 1].children if child.name == node.name]
        index = next(i for i, child in enumerate(same, 1) if child is node)
        parts.append(f"{node.name}[{index}]" if index > 1 else node.name)
    return "/" + "/".join(parts) if parts else "/"


def assign_paths(root: Node) -> None:
    """Set every element's path: `[n]` only where a name repeats among its siblings."""
    root.path = "/" + root.name
    # An explicit stack rather than recursion, like the parser's.
    pending = [root]
    while pending:
        parent = pending.pop()
        counts: dict[str, int] = {}
        for child in parent.children:
            counts[child.name] = counts.get(child.name, 0) + 1
        seen: dict[str, int] = {}
        for child in parent.children:
            seen[child.name] = seen.get(child.name, 0) + 1
            suffix = f"[{seen[child.name]}]" if counts[child.name] > 1 else ""
            child.path = f"{parent.path}/{child.name}{suffix}"
            pending.append(child)


def parse(data: bytes) -> Node:
    """The document's root element; DocumentInvalid with line and path when unusable,
    DocumentTooComplex when it exceeds LIMITS."""
    check_size(data, LIMITS)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DocumentInvalid([Problem(f"line {line}", "expected UTF-8 text")]) from None

    parser = expat.ParserCreate(namespace_separator=_SEPARATOR)
    parser.buffer_text = True
    # Never read a DTD or external entity, whatever the document asks.
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[Node] = []
    roots: list[Node] = []
    counts = {"elements": 0, "chars": 0}

    def refuse_doctype(*_: object) -> None:
        raise _Refused("expected no DOCTYPE or entity declarations (refused for safety)")

    def refuse_external(*_: object) -> int:
        raise _Refused("expected no external entities (refused for safety)")

    def declaration(_version: str, encoding: str | None, _standalone: int) -> None:
        if encoding is not None and encoding.replace("_", "-").lower() not in {"utf-8", "utf8"}:
            raise _Refused("expected UTF-8 (the XML declaration names another encoding)")

    def start(expanded: str, attributes: dict[str, str]) -> None:
        if len(stack) >= MAX_DEPTH:
            raise _Refused(f"expected elements nested at most {MAX_DEPTH} deep", "depth")
        counts["elements"] += 1
        if counts["elements"] > LIMITS.max_nodes:
            raise _Refused(f"expected at most {LIMITS.max_nodes} elements", "elements")
        if counts["elements"] % 1000 == 0:
            check_deadline(f"line {parser.CurrentLineNumber}")
        if len(attributes) > MAX_ATTRIBUTES:
            raise _Refused(f"expected at most {MAX_ATTRIBUTES} attributes", "attributes")
        if any(len(value) > LIMITS.max_field_chars for value in attributes.values()):
            raise _Refused(
                f"expected attribute values of at most {LIMITS.max_field_chars} characters",
                "field_length",
            )
        namespace, local = _split(expanded)
        node = Node(
            namespace=namespace,
            name=local,
            attributes={_attribute_name(key): value for key, value in attributes.items()},
            line=parser.CurrentLineNumber,
        )
        if stack:
            stack[-1].children.append(node)
        else:
            roots.append(node)
        stack.append(node)

    def end(_expanded: str) -> None:
        stack.pop()
        counts["chars"] = 0

    def characters(text: str) -> None:
        # Counted per run of text between tags: an element's own text is one such run in
        # this format (mixed content is not used), and any run beyond the bound is refused.
        counts["chars"] += len(text)
        if counts["chars"] > LIMITS.max_field_chars:
            raise _Refused(
                f"expected text of at most {LIMITS.max_field_chars} characters", "field_length"
            )
        if stack:
            stack[-1].text_parts.append(text)

    parser.XmlDeclHandler = declaration
    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_doctype
    parser.UnparsedEntityDeclHandler = refuse_doctype
    parser.ExternalEntityRefHandler = refuse_external
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        parser.Parse(data, True)
    except _Refused as refusal:
        location = f"line {parser.CurrentLineNumber}: {_open_path(stack)}"
        if refusal.limit:
            raise too_complex(refusal.limit, location, refusal.message) from None
        raise DocumentInvalid([Problem(location, refusal.message)]) from None
    except DocumentTooComplex:  # the deadline, raised from inside a callback
        raise
    except expat.ExpatError as error:
        # ErrorString names the kind of fault only ("mismatched tag"), never document text.
        location = f"line {error.lineno}: {_open_path(stack)}"
        reason = expat.ErrorString(error.code)
        raise DocumentInvalid([Problem(location, f"expected well-formed XML ({reason})")]) from None
    root = roots[0]
    assign_paths(root)
    return root
