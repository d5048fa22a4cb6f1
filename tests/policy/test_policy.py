from __future__ import annotations

from gateway.config import RoutingRule
from gateway.policy import PeerRoute, RoutePolicy
from gateway.wire import Kind, canonical


def _alert(province: str = "KH-16") -> canonical.Message:
    return canonical.Message(
        action=canonical.ACTION_ISSUE,
        handling=canonical.HANDLING_VICTIM_PROTECTED,
        hotline_alert=canonical.HotlineAlert(
            province=province,
            caller=canonical.Caller(name="Rah Lan Thị Hoa", phone="0987 654 321"),
            persons=[
                canonical.InvolvedPerson(
                    role=canonical.ROLE_VICTIM, person=canonical.Person(name="Rah Lan H'Bia")
                )
            ],
        ),
    )


POLICY = RoutePolicy(
    {
        "kh-ratanakiri-police": PeerRoute("KH"),
        "vn-gialai-blo": PeerRoute("VN"),
        "vn-redacting": PeerRoute("VN", ("hotline_alert.persons.person.name",)),
    },
    [
        RoutingRule(frozenset({Kind.HOTLINE_ALERT}), ("KH-16",), ("kh-ratanakiri-police",)),
        RoutingRule(frozenset(Kind), ("VN",), ("vn-gialai-blo",)),
    ],
)


def test_the_caller_never_leaves_vietnam() -> None:
    message = _alert()
    result = POLICY.apply(message, "kh-ratanakiri-police")
    assert not result.message.hotline_alert.HasField("caller")
    assert result.removed == ("hotline_alert.caller",)
    assert b"0987" not in result.message.SerializeToString()
    assert result.message.handling == canonical.HANDLING_VICTIM_PROTECTED
    # The original is untouched, and a Vietnamese peer gets the caller.
    assert message.hotline_alert.caller.phone == "0987 654 321"
    assert POLICY.apply(message, "vn-gialai-blo").message.hotline_alert.caller.name


def test_configured_redactions_reach_into_repeated_fields() -> None:
    result = POLICY.apply(_alert(), "vn-redacting")
    assert result.removed == ("hotline_alert.persons.person.name",)
    assert result.message.hotline_alert.persons[0].person.name == ""
    assert result.message.hotline_alert.persons[0].role == canonical.ROLE_VICTIM
    assert result.message.hotline_alert.caller.name  # not a foreign peer


def test_nothing_is_reported_removed_when_the_field_was_empty() -> None:
    message = _alert()
    message.hotline_alert.ClearField("caller")
    assert POLICY.apply(message, "kh-ratanakiri-police").removed == ()


def test_routing_by_kind_and_province_or_country() -> None:
    assert POLICY.route(_alert("KH-16")) == ("kh-ratanakiri-police",)
    assert POLICY.route(_alert("KH-19")) == ()
    assert POLICY.route(_alert("VN-30")) == ("vn-gialai-blo",)
    handover = canonical.Message(victim_handover=canonical.VictimHandover(border_gate="VN-LETHANH"))
    assert POLICY.route(handover) == ("vn-gialai-blo",)
    assert POLICY.route(canonical.Message()) == ()
