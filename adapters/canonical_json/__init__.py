"""`canonical-json`: the canonical model itself in the protobuf JSON mapping.

For systems (and operators) that speak the canonical model directly, such as `gateway send`
and integration tests. A document is one blg.v1.Message object; field names may be
lowerCamelCase or the proto names, as the JSON mapping allows.
"""

from __future__ import annotations

import json

from google.protobuf import json_format

from adapters.base import Decoded, DecodeResult, DocumentInvalid, Encoded, Problem
from gateway.wire import Kind, canonical


class CanonicalJson:
    format_id = "canonical-json"
    media_type = "application/vnd.blg.canonical+json"
    kinds = frozenset(Kind)
    many_per_document = False

    def decode(self, data: bytes) -> DecodeResult:
        try:
            text = data.decode("utf-8-sig")
            json.loads(text)
        except (UnicodeDecodeError, ValueError):
            raise DocumentInvalid(
                [Problem("/", "expected a JSON object in UTF-8 (blg.v1.Message)")]
            ) from None
        message = canonical.Message()
        try:
            json_format.Parse(text, message)
        except json_format.ParseError as error:
            # The parser's message names the field and the expected type; it can quote the
            # value, so keep only the part before any colon-quoted value.
            detail = str(error).split(": ", 1)[-1].split(' "', 1)[0]
            raise DocumentInvalid([Problem("/", f"not a blg.v1.Message: {detail}")]) from None
        return DecodeResult(messages=(Decoded(message),))

    def encode(self, message: canonical.Message) -> Encoded:
        text = json_format.MessageToJson(message, ensure_ascii=False, indent=2)
        return Encoded(text.encode("utf-8") + b"\n")


ADAPTER = CanonicalJson()
