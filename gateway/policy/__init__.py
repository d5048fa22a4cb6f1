"""Route policy: what may leave this node for which peer, decided before sealing.

Two kinds of rule, applied to every copy of a message, whatever format or door it came in
by (API, drop folder, console, CLI):
- fixed rules of the federation, which configuration cannot loosen: a hotline caller's name
  and phone never leave Vietnam, so `hotline_alert.caller` is removed from every copy sealed
  for a peer whose country is not VN;
- per-peer redactions from the configuration (`peers[].redact`), canonical field paths such
  as `victim_handover.escort`.
Markings travel untouched: a victim-protected message stays victim-protected end to end.

Routing picks recipients when a local system names none: the peers of every matching rule
(by kind, and by the message's province or its country), in configuration order. A handover
is matched by its border gate's country only (`KH` matches `KH-OYADAV`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from google.protobuf.message import Message as ProtoMessage

from gateway.config import RoutingRule
from gateway.wire import Kind, canonical

HOME_COUNTRY = "VN"
CALLER_PATH = "hotline_alert.caller"


@dataclass(frozen=True)
class PeerRoute:
    """What policy needs to know about one peer."""

    country: str
    redact: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyResult:
    """The copy to seal for one peer and the field paths removed from it."""

    message: canonical.Message
    removed: tuple[str, ...]


def _clear_path(message: ProtoMessage, path: str) -> bool:
    """Clear a dotted field path (through repeated messages too); True if anything was set."""
    *parents, leaf = path.split(".")
    targets: list[ProtoMessage] = [message]
    for name in parents:
        next_targets: list[ProtoMessage] = []
        for target in targets:
            value = getattr(target, name)
            if target.DESCRIPTOR.fields_by_name[name].is_repeated:
                next_targets.extend(value)
            elif target.HasField(name):
                next_targets.append(value)
        targets = next_targets
    removed = False
    for target in targets:
        field = target.DESCRIPTOR.fields_by_name[leaf]
        if field.is_repeated:
            removed = removed or len(getattr(target, leaf)) > 0
        elif field.message_type is not None:
            removed = removed or target.HasField(leaf)
        else:
            removed = removed or getattr(target, leaf) != field.default_value
        target.ClearField(leaf)
    return removed


class RoutePolicy:
    """Per-peer redaction and routing of canonical messages."""

    def __init__(self, peers: Mapping[str, PeerRoute], rules: Sequence[RoutingRule] = ()) -> None:
        self._peers = peers
        self._rules = tuple(rules)

    def redaction_paths(self, peer: str) -> tuple[str, ...]:
        route = self._peers[peer]
        paths = list(route.redact)
        if route.country != HOME_COUNTRY and CALLER_PATH not in paths:
            paths.append(CALLER_PATH)
        return tuple(paths)

    def apply(self, message: canonical.Message, peer: str) -> PolicyResult:
        """The copy of message that may be sealed for peer."""
        copy = canonical.Message()
        copy.CopyFrom(message)
        removed = tuple(path for path in self.redaction_paths(peer) if _clear_path(copy, path))
        return PolicyResult(copy, removed)

    def route(self, message: canonical.Message) -> tuple[str, ...]:
        """Recipients chosen by the routing rules; empty when no rule matches."""
        body = message.WhichOneof("body")
        if body is None:
            return ()
        kind = Kind(body)
        place = message_province(message)
        chosen: dict[str, None] = {}
        for rule in self._rules:
            if kind not in rule.kinds:
                continue
            if rule.provinces and not _matches(place, rule.provinces):
                continue
            chosen.update(dict.fromkeys(rule.to))
        return tuple(chosen)


def _matches(place: str, provinces: Iterable[str]) -> bool:
    return bool(place) and any(
        place == wanted or place.startswith(f"{wanted}-") for wanted in provinces
    )


def message_province(message: canonical.Message) -> str:
    """The province (ISO 3166-2) or, for handovers, the border gate's country a message is about."""
    body = message.WhichOneof("body")
    if body == "wanted_person_notice":
        return message.wanted_person_notice.last_known_province
    if body == "hotline_alert":
        return message.hotline_alert.province
    if body == "victim_handover":
        # Gate codes start with their country (VN-LETHANH, KH-OYADAV).
        return message.victim_handover.border_gate.split("-", 1)[0]
    return ""
