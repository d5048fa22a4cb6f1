"""schemathesis hooks for test_schemathesis.py, loaded by the CLI through SCHEMATHESIS_HOOKS.

Left to the OpenAPI document alone, schemathesis feeds the API bodies its validation refuses
(the document cannot describe a partner format) and message ids nobody sent, so it hardly
ever gets past the first checks. These hooks give it what a real client sends: documents of
each partner format, built from the ../shared/partners samples with a generated reference and
encoded by the adapters; the peer the node has; ids of messages this client did send (from
the test's setup and from every 202 seen since). Generated values are still mixed in, so the
refusals keep being tested too. Every answer is logged for the test to count.
"""

from __future__ import annotations

import itertools
import json
import os
import string
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import strategies as st

from adapters import Adapter, CannotEncode, adapter_for, registry
from gateway.wire import Kind, canonical

PARTNERS = Path(__file__).resolve().parents[3] / "shared" / "partners"
MESSAGES_PATH = "/api/v1/messages"
STATUS_PATH = "/api/v1/messages/{message_id}"
ATTACHMENT_PATH = "/api/v1/inbox/{message_id}/attachments/{attachment_id}"
# Set by the test: the peer to send to, message ids already sent, where answers are logged.
PEER = os.environ.get("BLG_SCHEMATHESIS_PEER", "")
SENT_IDS: list[str] = json.loads(os.environ.get("BLG_SCHEMATHESIS_IDS", "[]"))
# Ids of messages the node received, for acknowledge and handled.
RECEIVED_IDS: list[str] = json.loads(os.environ.get("BLG_SCHEMATHESIS_RECEIVED", "[]"))
ACKNOWLEDGE_PATHS = ("/api/v1/inbox/{message_id}/acknowledge", "/api/v1/inbox/{message_id}/handled")
ANSWERS = Path(os.environ.get("BLG_SCHEMATHESIS_ANSWERS", os.devnull))
# [message id, attachment id] of attachments received in this client's inbox.
ATTACHMENTS: list[list[str]] = json.loads(os.environ.get("BLG_SCHEMATHESIS_ATTACHMENTS", "[]"))
REFERENCES = st.text(string.ascii_uppercase + string.digits + "-/", min_size=1, max_size=30)


def _samples() -> list[canonical.Message]:
    messages = []
    for sample in sorted(PARTNERS.glob("*/samples/*")):
        result = adapter_for(sample.parent.parent.name).decode(sample.read_bytes())
        messages += [decoded.message for decoded in result.messages]
    return messages


def _encoded(adapter: Adapter, base: canonical.Message, reference: str) -> bytes | None:
    message = canonical.Message()
    message.CopyFrom(base)
    message.sender_reference = reference
    try:
        return adapter.encode(message).data
    except CannotEncode:
        return None


def _documents(adapter: Adapter, samples: list[canonical.Message]) -> st.SearchStrategy[bytes]:
    """Valid documents of adapter's format: any sample it can carry, under a new reference."""
    carried = [m for m in samples if Kind(m.WhichOneof("body") or "") in adapter.kinds]
    assert carried, adapter.format_id
    return (
        st.tuples(st.sampled_from(carried), REFERENCES)
        .map(lambda drawn: _encoded(adapter, *drawn))
        .filter(lambda data: data is not None)
        .map(lambda data: data or b"")
    )


SAMPLES = _samples()
for _adapter in registry().values():
    schemathesis.openapi.media_type(_adapter.media_type, _documents(_adapter, SAMPLES))


def _is_uuid(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 36 and value.count("-") == 4


# The coverage phase builds its cases from the document alone, without the strategies above:
# its positive submissions get a sample document of their media type (a different one each
# time) and the peer, so that they too are valid.
_COVERAGE_DOCUMENTS = {
    adapter.media_type: [
        data
        for index, message in enumerate(SAMPLES)
        if (data := _encoded(adapter, message, f"COVERAGE-{index}")) is not None
        and Kind(message.WhichOneof("body") or "") in adapter.kinds
    ]
    for adapter in registry().values()
}
_coverage_draws = itertools.count()


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: Any) -> Any:
    del context
    if (
        case.operation.path == MESSAGES_PATH
        and case.method.upper() == "POST"
        and case.meta is not None
        and case.meta.phase.name.value == "coverage"
        and case.meta.generation.mode.value == "positive"
        and _COVERAGE_DOCUMENTS.get(case.media_type)
    ):
        documents = _COVERAGE_DOCUMENTS[case.media_type]
        case.body = documents[next(_coverage_draws) % len(documents)]
        case.query = {"to": [PEER]}
    return case


@schemathesis.hook
def flatmap_query(
    context: schemathesis.HookContext, query: dict[str, Any] | None
) -> st.SearchStrategy[Any]:
    """For a submission, most of the time: to the node's peer, the format by Content-Type."""
    operation = context.operation
    if operation is None or operation.path != MESSAGES_PATH or operation.method.upper() != "POST":
        return st.just(query)
    addressed: dict[str, Any] = {"to": [PEER]}
    if query and _is_uuid(query.get("case_id")):
        addressed["case_id"] = query["case_id"]
    return st.sampled_from([addressed, addressed, addressed, query])


@schemathesis.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[Any]:
    """For a status query, most of the time: a message this client did send; for an
    acknowledgement, a message the node received; for an attachment, one in the client's
    inbox."""
    operation = context.operation
    if operation is not None and operation.path == ATTACHMENT_PATH and ATTACHMENTS:
        attached = st.sampled_from(
            [{"message_id": message, "attachment_id": name} for message, name in ATTACHMENTS]
        )
        return st.one_of(attached, attached, attached, st.just(path_parameters))
    if operation is not None and operation.path in ACKNOWLEDGE_PATHS and RECEIVED_IDS:
        received = st.sampled_from([{"message_id": id_} for id_ in RECEIVED_IDS])
        return st.one_of(received, received, received, st.just(path_parameters))
    if operation is None or operation.path != STATUS_PATH:
        return st.just(path_parameters)
    # Drawn by index from a list that grows as submissions succeed.
    sent = st.integers(min_value=0).map(
        lambda index: {"message_id": SENT_IDS[index % len(SENT_IDS)]}
    )
    return st.one_of(sent, sent, sent, st.just(path_parameters))


@schemathesis.hook
def after_call(context: schemathesis.HookContext, case: Any, response: Any) -> None:
    del context
    status = int(response.status_code)
    with ANSWERS.open("a") as log:
        phase = (
            f"{case.meta.phase.name.value}/{case.meta.generation.mode.value}" if case.meta else "-"
        )
        log.write(
            f"{case.method.upper()} {case.operation.path} {status} {case.media_type} {phase}\n"
        )
    if status == 202 and case.operation.path == MESSAGES_PATH:
        SENT_IDS.extend(item["id"] for item in response.json()["messages"])
