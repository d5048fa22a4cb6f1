"""`kh-police-xml`: notices of the Ratanakiri (KH-16) and Stung Treng (KH-19) Provincial Police.

One XML document is one message (a wanted-person notice, a victim handover or a hotline
alert), in namespace `urn:kh:police:liaison:1`. The adapter is split by direction:
`xmltree` reads XML safely and keeps line numbers, `decode` and `encode` map each way, and
`codes` holds the code lists both read, so the two directions cannot disagree.

Decisions worth knowing, where the partner's specification is silent:
- Names: NameKh holds Khmer script only. A Vietnamese (Latin-script) name has no Khmer form
  and is written as NameLatin alone; the loss check then reports `name` as left out, since
  the receiving side only gets the Latin form. Khmer script is never romanised by guess.
- Partial dates: only birth dates may be partial, and only as a year alone; a month without
  a day is written as the year and reported. Warrant dates and ValidUntil are full dates.
- One ID card (nine digits, Cambodian) and one passport per person; a Vietnamese citizen ID
  has no place and is reported. A passport's issuing country is the person's nationality.
- Body elements are all optional (an UPDATE or CANCEL need not repeat the content); the
  root's kind, ref and action are required, `issued` is not (a canonical message may lack
  it), and a missing classification gets the kind's default with a warning.
- On output, an unspecified handling is written as the kind's default, so that the partner
  always sees an explicit marking; case_id and in_reply_to travel in the gateway's envelope
  and are not reported as lost.
- Hotline alerts carry neither the call id nor the caller: the caller never leaves Vietnam.
  Both are reported as left out when a canonical alert holds them.
"""

from __future__ import annotations

from adapters.base import DecodeResult, Encoded
from adapters.common.loss import lost_fields
from adapters.kh_police_xml.codes import FORMAT_ID
from adapters.kh_police_xml.decode import decode_document
from adapters.kh_police_xml.encode import encode_message
from gateway.wire import Kind, canonical

__all__ = ["ADAPTER", "KhPoliceXml"]


class KhPoliceXml:
    """The kh-police-xml adapter: pure functions, no state."""

    format_id = FORMAT_ID
    media_type = "application/vnd.kh-police+xml"
    kinds = frozenset(Kind)
    many_per_document = False

    def decode(self, data: bytes) -> DecodeResult:
        return DecodeResult(messages=(decode_document(data),))

    def encode(self, message: canonical.Message) -> Encoded:
        data = encode_message(message)
        # The envelope carries these; the loss check must not count them against the format.
        original = canonical.Message()
        original.CopyFrom(message)
        original.ClearField("case_id")
        original.ClearField("in_reply_to")
        round_tripped = decode_document(data).message
        return Encoded(data, lost_fields(original, round_tripped, FORMAT_ID))


ADAPTER = KhPoliceXml()
