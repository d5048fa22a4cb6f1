"""Every message id used by the console is in the vi, km and en catalogues.

Ids come from the templates (Jinja2's Babel extractor, `_`/gettext/ngettext) and from the
Python modules (`N_()` and `_()`), so a page can never fall back to English silently because
someone forgot a catalogue entry. Each part keeps its own .po file; the check is over the
merged catalogue of each language, exactly as the console loads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_python
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from gateway.console.context import CONSOLE_LANGUAGES
from gateway.console.i18n import load_catalogue

CONSOLE = Path(str(resources.files("gateway.console")))
TEMPLATE_KEYWORDS = ("_", "gettext", "ngettext")
PYTHON_KEYWORDS = {"N_": None, "_": None}
# Languages whose readers must never see the English msgid in place of a translation.
TRANSLATED = ("vi", "km")

MsgId = str | tuple[str, ...]


def _ids(found: object) -> MsgId | None:
    """The msgid(s) of one extracted call; None when the id is a variable (nothing to look
    up). Keyword arguments (`_("%(n)s", n=...)`) come as trailing Nones."""
    if isinstance(found, str):
        return found
    if not isinstance(found, tuple | list):
        return None
    leading: list[str] = []
    for part in found:
        if not isinstance(part, str):
            break
        leading.append(part)
    if not leading:
        return None
    return leading[0] if len(leading) == 1 else tuple(leading)


def template_msgids() -> Iterator[tuple[str, MsgId]]:
    for template in sorted((CONSOLE / "templates").rglob("*.html")):
        with template.open("rb") as source:
            extracted = babel_extract(
                source, TEMPLATE_KEYWORDS, [], {"extensions": "jinja2.ext.i18n"}
            )
            for lineno, _function, message, _comments in extracted:
                msgid = _ids(message)
                if msgid is not None:
                    yield f"{template.relative_to(CONSOLE)}:{lineno}", msgid


def python_msgids() -> Iterator[tuple[str, MsgId]]:
    for module in sorted(CONSOLE.rglob("*.py")):
        with module.open("rb") as source:
            for lineno, _function, message, _comments in extract_python(
                source, PYTHON_KEYWORDS, [], {}
            ):
                msgid = _ids(message)
                if msgid is not None:
                    yield f"{module.relative_to(CONSOLE)}:{lineno}", msgid


def used_msgids() -> list[tuple[str, MsgId]]:
    return [*template_msgids(), *python_msgids()]


def missing(catalogue: Catalog, msgid: MsgId, *, translated: bool) -> str | None:
    """Why `msgid` is not usable in `catalogue`, or None when it is."""
    singular = msgid if isinstance(msgid, str) else msgid[0]
    message = catalogue.get(singular)
    if message is None:
        return "missing"
    if not translated:
        return None
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    if not strings or not all(strings):
        return "untranslated"
    return None


def test_the_extractors_find_the_shells_own_ids() -> None:
    """Guards the test itself: a broken extractor would find nothing and pass."""
    found = {msgid for _where, msgid in used_msgids()}
    assert "Sign out" in found  # base.html
    assert "Victim handover" in found  # labels.py, N_()
    assert "Your role does not allow this page or action." in found  # rendering.py


@pytest.mark.parametrize("language", CONSOLE_LANGUAGES)
def test_every_used_msgid_is_in_the_catalogue(language: str) -> None:
    catalogue = load_catalogue(language)
    problems = sorted(
        f"{where}: {reason}: {msgid!r}"
        for where, msgid in used_msgids()
        if (reason := missing(catalogue, msgid, translated=language in TRANSLATED))
    )
    assert not problems, f"{language} catalogue:\n" + "\n".join(problems)


def test_missing_and_untranslated_entries_are_found() -> None:
    catalogue = Catalog(locale="vi")
    catalogue.add("Cases", "Vụ việc")
    catalogue.add("Approvals", "")
    assert missing(catalogue, "Cases", translated=True) is None
    assert missing(catalogue, "Approvals", translated=True) == "untranslated"
    assert missing(catalogue, "Approvals", translated=False) is None
    assert missing(catalogue, "Operations", translated=False) == "missing"


def conflicting_translations(language: str) -> list[str]:
    """Msgids that two of a language's .po files translate differently: the merged catalogue
    would show whichever file loads last, so a state badge could read like a time heading."""
    seen: dict[tuple[str, str | None], dict[str, str]] = {}
    for po in sorted((CONSOLE / "locale" / language / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as source:
            for message in read_po(source):
                if not message.id:
                    continue
                singular = message.id if isinstance(message.id, str) else message.id[0]
                strings = message.string
                text = strings if isinstance(strings, str) else (strings or ("",))[0]
                seen.setdefault((singular, message.context), {})[po.name] = text
    return sorted(
        f"{msgid!r}: {files}"
        for (msgid, _context), files in seen.items()
        if len(set(files.values())) > 1
    )


@pytest.mark.parametrize("language", CONSOLE_LANGUAGES)
def test_a_msgid_has_one_translation_across_the_parts_catalogues(language: str) -> None:
    conflicts = conflicting_translations(language)
    assert not conflicts, f"{language}: translated differently in two files:\n" + "\n".join(
        conflicts
    )
