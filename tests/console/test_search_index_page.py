"""The search page over the real index (gateway/search: SearchIndexer and SearchIndex, as
components.search_index_for builds them for a running node) on the console's real store:
a handover received from the peer and a notice this node sent, indexed from their sealed
envelopes, then found through the page by a name in another script or by filters alone, and
shown to each role as it may read them."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from gateway.console import Role
from gateway.console.context import CONTENT_READERS
from gateway.store import EmbeddedPostgres
from gateway.wire import canonical
from tests.console.cases_support import handover_from_ratanakiri, receive, send
from tests.console.conftest import ConsoleHarness
from tests.console.search_support import indexed_console
from tests.console.test_compose import post_form
from tests.federation.harness import Federation

_HIT = re.compile(r'<tr class="hit" data-case="([^"]+)" data-entry="\d+" data-withheld="(yes|no)"')
_REASONS = re.compile(r'<span class="reason" data-reason="([a-z_]+)"')
# The Ratanakiri sample's victims, as its officers wrote them (Khmer script, Latin).
VICTIM_KHMER, VICTIM_LATIN = "ង្វៀន ធី ឡាន", "NGUYEN Thi Lan"
# The notice's subject, written in Vietnamese only.
WANTED = "Rơ Châm Y Phăn"


@dataclass(frozen=True)
class Indexed:
    console: ConsoleHarness
    handover: uuid.UUID  # received, victim-protected
    notice: uuid.UUID  # sent, normal


@pytest.fixture(name="indexed")
async def indexed_fixture(
    tmp_path: Path, postgres: EmbeddedPostgres, ca: trustme.CA
) -> AsyncIterator[Indexed]:
    async with indexed_console(Federation(tmp_path, postgres, ca)) as (console, indexer):
        handover = uuid.uuid4()
        await receive(console, handover_from_ratanakiri(), handover)
        notice = canonical.Message(
            action=canonical.ACTION_ISSUE,
            handling=canonical.HANDLING_NORMAL,
            sender_reference="TN-2026-9",
            wanted_person_notice=canonical.WantedPersonNotice(
                subject=canonical.Person(name=WANTED, birth_date=canonical.Date(year=1990))
            ),
        )
        _, notice_case = await send(console, notice)
        assert await indexer.catch_up() >= 2
        yield Indexed(console, handover, notice_case)


async def _hits(
    console: ConsoleHarness, fields: list[tuple[str, str]]
) -> tuple[str, list[tuple[str, str]]]:
    """The results part of the page (the form above it holds the terms as typed), and each
    hit's (case, withheld)."""
    answer = await post_form(console, "/console/search", fields, form_path="/console/search")
    page = await answer.text()
    assert answer.status == 200, page[:400]
    results = page[page.index('<section class="search-results"') :]
    return results, _HIT.findall(results)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # Vietnamese letters find the victim written in Khmer script (and Latin).
        ([("name", "Nguyễn Thị Lan")], ["handover"]),
        # Given name first: the subject written in Vietnamese, family name first.
        ([("name", "Y Phăn Rơ Châm")], ["notice"]),
        ([("document_number", "010 987 654")], ["handover"]),
        ([("birth", "2010-04-12")], ["handover"]),
        ([("kind", "wanted_person_notice")], ["notice"]),
        ([("border_gate", "KH-OYADAV"), ("name", "Chan Sophea")], ["handover"]),
        ([("border_gate", "VN-BOY")], []),
    ],
)
async def test_the_page_finds_what_the_index_holds(
    indexed: Indexed, fields: list[tuple[str, str]], expected: list[str]
) -> None:
    await indexed.console.sign_in(Role.OFFICER)
    _, hits = await _hits(indexed.console, fields)
    cases = {str(indexed.handover): "handover", str(indexed.notice): "notice"}
    assert [cases[case] for case, _ in hits] == expected


async def test_filters_alone_give_their_reason(indexed: Indexed) -> None:
    await indexed.console.sign_in(Role.OFFICER)
    page, hits = await _hits(indexed.console, [("kind", "wanted_person_notice")])
    assert len(hits) == 1
    assert _REASONS.findall(page) == ["filter"]
    assert "matches the filters" in page


@pytest.mark.parametrize("role", [Role.OFFICER, Role.SUPERVISOR, Role.OPERATOR, Role.ADMIN])
async def test_each_role_finds_only_the_people_it_may_read(indexed: Indexed, role: Role) -> None:
    await indexed.console.sign_in(role)
    page, hits = await _hits(indexed.console, [("birth", "1990")])
    assert hits == [(str(indexed.notice), "no")]  # a normal notice: anyone reads it
    assert WANTED in page
    page, hits = await _hits(indexed.console, [("name", VICTIM_LATIN)])
    reads = role in CONTENT_READERS
    # Those who may not read the victim do not learn that she is here at all.
    assert hits == ([(str(indexed.handover), "no")] if reads else [])
    assert (VICTIM_KHMER in page, VICTIM_LATIN in page) == (reads, reads)
    assert (f'href="/console/cases/{indexed.handover}"' in page) == reads
