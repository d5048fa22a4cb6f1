"""Walking a composed YAML node tree into typed values, keeping every node's line number.

Why not `yaml.safe_load` and a schema library: after construction PyYAML's dicts and lists
have forgotten where each value came from, and an operator needs "line 41: peers[2].url" to
fix a 200-line file. So the loader works on the composed node tree (`yaml.compose`), where
every node still has its mark, and converts it by hand.

How failures flow: a converter (converters.py) that finds a bad value records an issue and
raises `Rejected`; the nearest enclosing `MappingReader` (or list reader) catches it,
remembers that this key failed and goes on with the sibling keys. So one run reports every
independent problem, while a parent never adds a second, derived complaint about a child that
already failed: a failed key yields a placeholder that only lives until
`MappingReader.finish()`, which raises `Rejected` in turn before any half-built object can
escape. Cross-field checks that must run
even when a sibling failed ask `MappingReader.ok(...)` first.

The expected keys of a mapping are exactly the keys its reader asked for, so the
"unknown key; expected one of" message cannot drift from the code that reads the section.
A typo in a required key (`prot` for `port`) is reported once, as the unknown key with a
suggestion, not a second time as a missing key.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NoReturn, TypeVar, cast

import yaml
from yaml.resolver import Resolver

from gateway.config.issues import ConfigIssue

T = TypeVar("T")

STANDARD_TAG_PREFIX = "tag:yaml.org,2002:"
TAG_NULL = STANDARD_TAG_PREFIX + "null"
TAG_STR = STANDARD_TAG_PREFIX + "str"
ENV_TAG = "!env"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHOWN_VALUE_CHARS = 60
# Similarity above which an unknown key is taken for a typo: "prot" -> "port" (0.75) is one,
# "extra" -> "retry" (0.6) is not.
_TYPO_CUTOFF = 0.7

# Typed here because the stubs leave Resolver.resolve untyped.
_resolve_implicit_tag: Callable[[type[yaml.Node], str, tuple[bool, bool]], str] = Resolver().resolve


class Rejected(Exception):  # noqa: N818 (a signal between readers, not an error for users)
    """A value was invalid and its issues are already recorded."""


class _Placeholder:
    """Stands in for a value that failed; never outlives MappingReader.finish()."""

    def __repr__(self) -> str:
        return "<rejected value>"


_PLACEHOLDER = _Placeholder()


def node_line(node: yaml.Node) -> int:
    return node.start_mark.line + 1 if node.start_mark is not None else 0


class Walk:
    """What every converter of one file shares: where issues go and how to resolve paths."""

    def __init__(self, file: str, base_dir: Path, environ: Mapping[str, str]) -> None:
        self.file = file
        self.base_dir = base_dir
        self.environ = environ
        self.issues: list[ConfigIssue] = []

    def report(self, line: int, key: str, message: str) -> None:
        self.issues.append(ConfigIssue(self.file, line, key, message))

    def value(self, node: yaml.Node, path: str, line: int) -> Value:
        """Wrap a node, resolving `!env` tags; Rejected if the tag cannot be honoured."""
        if node.tag == ENV_TAG:
            if not isinstance(node, yaml.ScalarNode) or not _ENV_NAME.fullmatch(node.value):
                self.report(
                    line,
                    path,
                    "expected an environment variable name after !env, such as "
                    "!env BLG_DATABASE_DSN",
                )
                raise Rejected
            name: str = node.value
            if name not in self.environ:
                self.report(line, path, f"environment variable {name} is not set")
                raise Rejected
            text = self.environ[name]
            # The variable's text is typed the way YAML would type it had it been written in
            # place (so `port: !env PORT` works), except that empty stays an empty string
            # rather than becoming "absent".
            tag = _resolve_implicit_tag(yaml.ScalarNode, text, (True, False))
            if tag == TAG_NULL:
                tag = TAG_STR
            resolved = yaml.ScalarNode(tag, text, node.start_mark, node.end_mark)
            return Value(self, resolved, path, line, env_var=name)
        if not node.tag.startswith(STANDARD_TAG_PREFIX):
            self.report(line, path, f"unknown tag {node.tag!r}; expected {ENV_TAG} or no tag")
            raise Rejected
        if (
            isinstance(node, yaml.ScalarNode)
            and node.tag != TAG_STR
            and node.tag != _resolve_implicit_tag(yaml.ScalarNode, node.value, (True, False))
        ):
            # An explicit tag such as `!!int abc`: PyYAML's constructors would raise on it.
            shown = node.tag.replace(STANDARD_TAG_PREFIX, "!!")
            self.report(
                line, path, f"expected a value that fits its tag {shown}, got {node.value!r}"
            )
            raise Rejected
        return Value(self, node, path, line)

    def resolve_path(self, text: str) -> Path:
        if "\0" in text:
            raise ValueError("expected a path without NUL characters")
        # normpath, not resolve(): symlinks are kept, so a key mounted through a symlink that
        # is later swapped (as Kubernetes does when it rotates a secret) is still found.
        return Path(os.path.normpath(self.base_dir / text))


class Value:
    """One node of the tree, with its dotted path and the line to report problems at."""

    def __init__(
        self, walk: Walk, node: yaml.Node, path: str, line: int, env_var: str | None = None
    ) -> None:
        self.walk = walk
        self.node = node
        self.path = path
        self.line = line
        # Set when the value came from an environment variable: such a value may be a secret
        # and is never echoed in a message.
        self.env_var = env_var

    @property
    def is_null(self) -> bool:
        return self.node.tag == TAG_NULL

    def describe(self) -> str:
        """What was found, for the "got ..." part of a message."""
        if self.env_var is not None:
            return f"the value of environment variable {self.env_var}"
        if isinstance(self.node, yaml.MappingNode):
            return "a mapping"
        if isinstance(self.node, yaml.SequenceNode):
            return "a list"
        if self.is_null:
            return "an empty value"
        text: str = self.node.value
        if len(text) > _SHOWN_VALUE_CHARS:
            text = text[: _SHOWN_VALUE_CHARS - 3] + "..."
        return repr(text) if self.node.tag == TAG_STR else text

    def fail(self, message: str) -> NoReturn:
        self.walk.report(self.line, self.path, message)
        raise Rejected

    def expected(self, what: str) -> NoReturn:
        """Fail with `expected WHAT, got FOUND`; `what` may already start with "expected"."""
        prefix = "" if what.startswith("expected ") else "expected "
        self.fail(f"{prefix}{what}, got {self.describe()}")

    def scalar_text(self, what: str) -> str:
        """The scalar as written (`id: 2026` is the text 2026), or fail expecting `what`."""
        if not isinstance(self.node, yaml.ScalarNode) or self.is_null:
            self.expected(what)
        return str(self.node.value)

    def scalar_node(self, what: str) -> yaml.ScalarNode:
        """The scalar node, typed by YAML's rules, or fail expecting `what`."""
        if not isinstance(self.node, yaml.ScalarNode):
            self.expected(what)
        return self.node

    def mapping(self) -> MappingReader:
        if not isinstance(self.node, yaml.MappingNode):
            self.expected("a mapping (key: value lines)")
        return MappingReader(self, self.node)

    def child_line(self, key: str) -> int:
        """The line of `key` in this mapping, or this value's own line."""
        if isinstance(self.node, yaml.MappingNode):
            for key_node, _ in self.node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                    return node_line(key_node)
        return self.line


def _child_path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


class MappingReader:
    """Reads one YAML mapping key by key; see the module docstring for the failure protocol."""

    def __init__(self, value: Value, node: yaml.MappingNode) -> None:
        self._value = value
        self._walk = value.walk
        self._entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        self._requested: list[str] = []
        self._missing: list[str] = []
        self._rejected: set[str] = set()
        self._failed = False
        for key_node, value_node in node.value:
            line = node_line(key_node)
            # Any scalar is taken by its text (`9101:` is the key "9101"), so that a stray
            # number or `yes` is reported as an unknown key like any other.
            if not isinstance(key_node, yaml.ScalarNode):
                self._walk.report(line, value.path, "expected a key name, got a list or mapping")
                self._failed = True
                continue
            key: str = key_node.value
            if key in self._entries:
                first = node_line(self._entries[key][0])
                self._walk.report(
                    line,
                    _child_path(value.path, key),
                    f"duplicate key {key!r}; it is already set at line {first}",
                )
                self._failed = True
                continue
            self._entries[key] = (key_node, value_node)

    @property
    def path(self) -> str:
        return self._value.path

    def required(self, key: str, convert: Callable[[Value], T]) -> T:
        self._requested.append(key)
        if key not in self._entries:
            self._missing.append(key)
            self._failed = True
            return cast(T, _PLACEHOLDER)
        return self._convert(key, convert)

    def optional(self, key: str, convert: Callable[[Value], T], default: T) -> T:
        """`default` when the key is absent or empty (`key:` or `key: null`)."""
        self._requested.append(key)
        entry = self._entries.get(key)
        if entry is None or entry[1].tag == TAG_NULL:
            return default
        return self._convert(key, convert)

    def _convert(self, key: str, convert: Callable[[Value], T]) -> T:
        key_node, value_node = self._entries[key]
        try:
            return convert(self._walk.value(value_node, self.child_path(key), node_line(key_node)))
        except Rejected:
            self._rejected.add(key)
            self._failed = True
            return cast(T, _PLACEHOLDER)

    def expect(self, *keys: str) -> None:
        """Count keys as expected without reading them: the keys of a shape that is unknown
        because the key choosing it failed, which must not be reported as unknown too."""
        self._requested.extend(key for key in keys if key not in self._requested)

    def ok(self, *keys: str) -> bool:
        """Whether these keys were read successfully (absent optional keys count as read)."""
        return all(
            key in self._requested and key not in self._missing and key not in self._rejected
            for key in keys
        )

    def has(self, key: str) -> bool:
        """Whether the key is written in the file with a non-empty value."""
        entry = self._entries.get(key)
        return entry is not None and entry[1].tag != TAG_NULL

    def child_path(self, key: str) -> str:
        return _child_path(self.path, key)

    def line_of(self, key: str) -> int:
        entry = self._entries.get(key)
        return node_line(entry[0]) if entry is not None else self._value.line

    def report(self, key: str, message: str) -> None:
        """A cross-field problem, shown at `key`; the mapping as a whole fails."""
        self._walk.report(self.line_of(key), self.child_path(key), message)
        self._rejected.add(key)
        self._failed = True

    def finish(self) -> None:
        """Report unknown and missing keys; Rejected if anything in this mapping failed."""
        expected = ", ".join(self._requested)
        missing = list(self._missing)
        for key, (key_node, _) in self._entries.items():
            if key in self._requested:
                continue
            guess = difflib.get_close_matches(
                key, missing, n=1, cutoff=_TYPO_CUTOFF
            ) or difflib.get_close_matches(key, self._requested, n=1, cutoff=_TYPO_CUTOFF)
            hint = f" (did you mean {guess[0]!r}?)" if guess else ""
            if guess and guess[0] in missing:
                # The typo explains the missing key: one issue, not two.
                missing.remove(guess[0])
            self._walk.report(
                node_line(key_node),
                self.child_path(key),
                f"unknown key {key!r}{hint}; expected one of: {expected}",
            )
            self._failed = True
        for key in missing:
            self._walk.report(self._value.line, self.path, f"missing required key {key!r}")
        if self._failed:
            raise Rejected
