"""The format's code lists and the canonical enumerations they stand for.

Each table is written once, native code to canonical value, and read both ways; where the
canonical model has a value the format has no code for, the encoder's choice of nearest
code is written beside the table, so the loss check can report the narrowing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

from gateway.wire import Kind, canonical

V = TypeVar("V", bound=int)


class CodeTable(Generic[V]):
    """Native code <-> canonical enumeration value, with the `expected ...` text for errors."""

    def __init__(self, pairs: Mapping[str, V], nearest: Mapping[V, str] | None = None) -> None:
        self.to_canonical: dict[str, V] = dict(pairs)
        self.to_native: dict[V, str] = {value: code for code, value in pairs.items()}
        # Canonical values without a code of their own, written as the closest code.
        self.to_native.update(nearest or {})
        codes = list(pairs)
        listed = ", ".join(codes[:-1]) + " or " + codes[-1] if len(codes) > 1 else codes[0]
        self.expected = f"expected {listed}"

    def read(self, code: str) -> V | None:
        return self.to_canonical.get(code)

    def read_any_case(self, code: str) -> V | None:
        """For codes typed by people (`nữ`, `không rõ`) rather than chosen from a list."""
        folded = code.casefold()
        for native, value in self.to_canonical.items():
            if native.casefold() == folded:
                return value
        return None

    def write(self, value: V) -> str | None:
        return self.to_native.get(value)


KIND_BY_CODE: dict[str, Kind] = {
    "TRUY_NA": Kind.WANTED_PERSON_NOTICE,
    "BAN_GIAO_NAN_NHAN": Kind.VICTIM_HANDOVER,
    "TIN_BAO_111": Kind.HOTLINE_ALERT,
}
CODE_BY_KIND: dict[Kind, str] = {kind: code for code, kind in KIND_BY_CODE.items()}
KIND_EXPECTED = "expected TRUY_NA, BAN_GIAO_NAN_NHAN or TIN_BAO_111"

# Notices and alerts know three actions; handovers know those (a handover is never "issued",
# see HANDOVER_ISSUE) and four more. Handover-only canonical actions on a notice, and a
# counter-proposal anywhere, have no code: the encoder writes the closest one.
NOTICE_ACTION = CodeTable[canonical.Action.ValueType](
    {
        "PHAT_HANH": canonical.ACTION_ISSUE,
        "CAP_NHAT": canonical.ACTION_UPDATE,
        "HUY": canonical.ACTION_CANCEL,
    },
    nearest={
        canonical.ACTION_PROPOSE: "PHAT_HANH",
        canonical.ACTION_ACCEPT: "CAP_NHAT",
        canonical.ACTION_COUNTER_PROPOSE: "CAP_NHAT",
        canonical.ACTION_REJECT: "CAP_NHAT",
        canonical.ACTION_COMPLETE: "CAP_NHAT",
    },
)
HANDOVER_ACTION = CodeTable[canonical.Action.ValueType](
    {
        "DE_NGHI": canonical.ACTION_PROPOSE,
        "CHAP_NHAN": canonical.ACTION_ACCEPT,
        "TU_CHOI": canonical.ACTION_REJECT,
        "HOAN_THANH": canonical.ACTION_COMPLETE,
        "CAP_NHAT": canonical.ACTION_UPDATE,
        "HUY": canonical.ACTION_CANCEL,
    },
    nearest={
        canonical.ACTION_COUNTER_PROPOSE: "CAP_NHAT",
        canonical.ACTION_ISSUE: "DE_NGHI",
    },
)
# The spec lists PHAT_HANH among every kind's actions, but the canonical model has no "issue"
# for handovers: the first message of a handover proposes it.
HANDOVER_ISSUE = "PHAT_HANH"

HANDLING = CodeTable[canonical.Handling.ValueType](
    {
        "THUONG": canonical.HANDLING_NORMAL,
        "MAT": canonical.HANDLING_RESTRICTED,
        "TOI_MAT": canonical.HANDLING_VICTIM_PROTECTED,
    }
)
# When do_mat is absent: victims' data for handovers, restricted otherwise (safer than normal).
DEFAULT_HANDLING: dict[Kind, canonical.Handling.ValueType] = {
    Kind.WANTED_PERSON_NOTICE: canonical.HANDLING_RESTRICTED,
    Kind.VICTIM_HANDOVER: canonical.HANDLING_VICTIM_PROTECTED,
    Kind.HOTLINE_ALERT: canonical.HANDLING_RESTRICTED,
}

SEX = CodeTable[canonical.Sex.ValueType](
    {
        "Nam": canonical.SEX_MALE,
        "Nữ": canonical.SEX_FEMALE,
        "Không rõ": canonical.SEX_UNKNOWN,
    }
)

REQUEST = CodeTable[canonical.Request.ValueType](
    {
        "BAT_GIU_BAN_GIAO": canonical.REQUEST_ARREST,
        "XAC_MINH_NOI_O": canonical.REQUEST_LOCATE,
        "THONG_BAO": canonical.REQUEST_INFORM,
    }
)

NEED = CodeTable[canonical.Need.ValueType](
    {
        "Y_TE": canonical.NEED_MEDICAL,
        "TAM_LY": canonical.NEED_PSYCHOLOGICAL,
        "PHAP_LY": canonical.NEED_LEGAL,
        "PHIEN_DICH": canonical.NEED_INTERPRETER,
    }
)

# "A messaging service not named above" is most often Zalo in Vietnam, the closest code.
CHANNEL = CodeTable[canonical.Channel.ValueType](
    {
        "DIEN_THOAI": canonical.CHANNEL_PHONE,
        "ZALO": canonical.CHANNEL_ZALO,
        "FACEBOOK": canonical.CHANNEL_FACEBOOK,
        "TRUC_TIEP": canonical.CHANNEL_WALK_IN,
    },
    nearest={canonical.CHANNEL_MESSAGING: "ZALO"},
)

CATEGORY = CodeTable[canonical.Category.ValueType](
    {
        "NGHI_MUA_BAN_NGUOI": canonical.CATEGORY_SUSPECTED_TRAFFICKING,
        "MAT_TICH": canonical.CATEGORY_MISSING,
        "CAU_CUU": canonical.CATEGORY_RESCUE,
        "CUNG_CAP_THONG_TIN": canonical.CATEGORY_INFORMATION,
    }
)

URGENCY = CodeTable[canonical.Urgency.ValueType](
    {
        "KHAN_CAP": canonical.URGENCY_CRITICAL,
        "CAO": canonical.URGENCY_HIGH,
        "BINH_THUONG": canonical.URGENCY_NORMAL,
    }
)

ROLE = CodeTable[canonical.Role.ValueType](
    {
        "NAN_NHAN": canonical.ROLE_VICTIM,
        "NGHI_PHAM": canonical.ROLE_SUSPECT,
    }
)
