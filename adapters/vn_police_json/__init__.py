"""`vn-police-json`: the Gia Lai Provincial Police case system (Công an tỉnh Gia Lai).

One JSON object is one message, so a bad field makes the whole document unusable: decoding
collects every problem (JSON pointer and what was expected, never the value, which may be a
victim's name) and raises them together, rather than passing on a message with holes.

Choices the spec leaves open, made here once:
- Every body field is optional: cancellations and updates carry only what changed, and
  notices from Cambodian partners reach this format without, say, a hotline call id. Only
  loai_tin, so_hieu, thao_tac and thoi_diem are required. Null and blank values count as
  absent, since exporters write them for empty form fields.
- A ho_ten is the name in the person's own script with a derived Latin form
  (`Nguyễn Văn Hùng` -> `NGUYEN Van Hung`), except a plain-ASCII ho_ten of a Cambodian, Lao,
  Chinese, Thai or Burmese national, which is already a romanisation: it becomes name_latin
  and name stays empty (their own script is not known). A Khmer-script ho_ten gets no
  Latin form: romanisation is not guessed.
- PHAT_HANH on a handover (the spec allows it, the canonical model has no "issue" for
  handovers) is read as DE_NGHI with a warning. Canonical actions without a code are written
  as the nearest (COUNTER_PROPOSE as CAP_NHAT), CHANNEL_MESSAGING as ZALO.
- A passport's issuing country is not in the format; it is taken to be the holder's
  nationality.

Encoding never writes a value its own decoder would refuse: such values are left out, the
output is decoded again, and every canonical field that did not come back unchanged is
reported by adapters.common.loss. case_id and in_reply_to travel in the gateway's envelope,
not in partner documents, so they are never reported.
"""

from __future__ import annotations

from adapters.base import DecodeResult, Encoded
from adapters.common.loss import lost_fields
from adapters.vn_police_json.decoding import decode_message
from adapters.vn_police_json.encoding import encode_document
from gateway.wire import Kind, canonical


class VnPoliceJson:
    format_id = "vn-police-json"
    media_type = "application/vnd.vn-police+json"
    kinds = frozenset(Kind)
    many_per_document = False

    def decode(self, data: bytes) -> DecodeResult:
        return DecodeResult(messages=(decode_message(data),))

    def encode(self, message: canonical.Message) -> Encoded:
        data = encode_document(message)
        carried = canonical.Message()
        carried.CopyFrom(message)
        carried.ClearField("case_id")
        carried.ClearField("in_reply_to")
        again = decode_message(data).message
        return Encoded(data, lost_fields(carried, again, self.format_id))


ADAPTER = VnPoliceJson()

__all__ = ["ADAPTER", "VnPoliceJson"]
