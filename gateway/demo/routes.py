"""The demo's traffic: which node sends which partner sample to which peers.

samples/ holds copies of the partner samples of shared/partners/*/samples, in their native
formats; the demo decodes them with the same adapters the local API uses, so what crosses
the demo federation is exactly what a partner's system would submit. The Vietnamese hotline
alert names its caller: route policy removes the caller from the copy sealed for Ratanakiri,
as it does for any peer outside Vietnam.

The people in the samples are fictional but are handled as if real: the demo prints ids,
kinds, references and states, never content.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from adapters import DocumentInvalid, adapter_for
from gateway.wire import canonical


@dataclass(frozen=True)
class DemoRoute:
    """One sample submitted once by `sender` for all of `recipients` (one case, one copy each)."""

    sender: str
    sample: str  # file name under gateway/demo/samples/
    format: str  # the adapter that reads it
    recipients: tuple[str, ...]


VN_JSON, KH_XML, HOTLINE_CSV = "vn-police-json", "kh-police-xml", "hotline-111-csv"
DEMO_ROUTES: tuple[DemoRoute, ...] = (
    DemoRoute(
        "vn-gialai-police", "truy_na.json", VN_JSON, ("vn-gialai-blo", "kh-ratanakiri-police")
    ),
    DemoRoute("vn-gialai-police", "tin_bao_111.json", VN_JSON, ("kh-ratanakiri-police",)),
    DemoRoute("vn-gialai-police", "calls.csv", HOTLINE_CSV, ("vn-gialai-blo",)),
    DemoRoute("vn-gialai-blo", "ban_giao.json", VN_JSON, ("kh-ratanakiri-police",)),
    DemoRoute("kh-ratanakiri-police", "wanted.xml", KH_XML, ("vn-gialai-police",)),
    DemoRoute("kh-ratanakiri-police", "alert.xml", KH_XML, ("vn-gialai-police",)),
    DemoRoute(
        "kh-stungtreng-police", "handover.xml", KH_XML, ("vn-gialai-police", "vn-gialai-blo")
    ),
)


class SampleError(ValueError):
    """A demo sample is missing or is not a blg.v1.Message."""


def load_sample_bytes(route: DemoRoute) -> bytes:
    """A route's sample file as the partner wrote it."""
    source = resources.files("gateway.demo") / "samples" / route.sample
    try:
        return source.read_bytes()
    except OSError as error:
        raise SampleError(f"cannot read demo sample {route.sample}: {error.strerror}") from None


def load_sample(route: DemoRoute) -> list[canonical.Message]:
    """The messages of a route's sample file, decoded by its format's adapter."""
    data = load_sample_bytes(route)
    try:
        result = adapter_for(route.format).decode(data)
    except DocumentInvalid as invalid:
        raise SampleError(f"demo sample {route.sample}: {invalid}") from None
    if result.rejected or not result.messages:
        raise SampleError(f"demo sample {route.sample} has records that do not convert")
    return [decoded.message for decoded in result.messages]
