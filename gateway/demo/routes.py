"""The demo's traffic: which node sends which partner sample to which peers.

The samples in samples/ are hand-written canonical equivalents (blg.v1.Message in the protobuf
JSON mapping) of the partner samples in shared/partners/*/samples. They stand in for the format
adapters until those exist, so they are written the way an adapter must decode: local times
(UTC+7) converted to UTC, `do_mat` / `classification` mapped to a handling marking, codes and
country names mapped to the canonical enumerations and ISO codes, names kept in their own
script with a Latin form beside them.

A hotline caller never leaves Vietnam. Route policy is to strip `caller` before sealing for any
peer outside Vietnam; until that policy exists, the Vietnamese hotline sample is written without
the caller, since its only route leads to Ratanakiri, and a test holds every route to the rule.

The people in the samples are fictional but are handled as if real: the demo prints ids,
kinds, references and states, never content.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from google.protobuf import json_format

from gateway.wire import canonical


@dataclass(frozen=True)
class DemoRoute:
    """One sample submitted once by `sender` for all of `recipients` (one case, one copy each)."""

    sender: str
    sample: str  # file name under gateway/demo/samples/
    recipients: tuple[str, ...]


DEMO_ROUTES: tuple[DemoRoute, ...] = (
    DemoRoute(
        "vn-gialai-police",
        "vn_police_truy_na.json",
        ("vn-gialai-blo", "kh-ratanakiri-police"),
    ),
    DemoRoute(
        "vn-gialai-police",
        "vn_police_tin_bao_111_without_caller.json",
        ("kh-ratanakiri-police",),
    ),
    DemoRoute("vn-gialai-blo", "vn_police_ban_giao.json", ("kh-ratanakiri-police",)),
    DemoRoute("kh-ratanakiri-police", "kh_ratanakiri_wanted.json", ("vn-gialai-police",)),
    DemoRoute("kh-ratanakiri-police", "kh_ratanakiri_alert.json", ("vn-gialai-police",)),
    DemoRoute(
        "kh-stungtreng-police",
        "kh_stungtreng_handover.json",
        ("vn-gialai-police", "vn-gialai-blo"),
    ),
)


class SampleError(ValueError):
    """A demo sample is missing or is not a blg.v1.Message."""


def load_sample(name: str) -> canonical.Message:
    """The sample file `name` from gateway/demo/samples/, parsed."""
    source = resources.files("gateway.demo") / "samples" / name
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise SampleError(f"cannot read demo sample {name}: {error.strerror or error}") from None
    message = canonical.Message()
    try:
        json_format.Parse(text, message)
    except json_format.ParseError as error:
        raise SampleError(f"demo sample {name} is not a blg.v1.Message: {error}") from None
    return message
