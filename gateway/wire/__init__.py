"""Protocol data types: the generated protobuf classes and the few helpers around them.

The classes come from proto/ through tools/gen_proto.py; everything else in the gateway
imports them from here, so the generated module paths appear in one place only.
"""

from __future__ import annotations

from gateway.wire.blg.v1 import acknowledgement_pb2 as acknowledgement
from gateway.wire.blg.v1 import bundle_pb2 as bundle
from gateway.wire.blg.v1 import cancellation_pb2 as cancellation
from gateway.wire.blg.v1 import canonical_pb2 as canonical
from gateway.wire.blg.v1 import checkpoint_pb2 as checkpoint
from gateway.wire.blg.v1 import envelope_pb2 as envelope
from gateway.wire.ids import is_uuid7, uuid7, uuid7_unix_ms
from gateway.wire.kinds import ControlKind, Kind, envelope_kind_from_wire

__all__ = [
    "ControlKind",
    "Kind",
    "acknowledgement",
    "bundle",
    "cancellation",
    "canonical",
    "checkpoint",
    "envelope",
    "envelope_kind_from_wire",
    "is_uuid7",
    "uuid7",
    "uuid7_unix_ms",
]
