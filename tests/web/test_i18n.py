"""The pages' languages: catalogues complete and in step with the code, every visible
string of the templates translatable, amounts and dates in each locale's way."""

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from ssa.web.i18n import LANGUAGES, TRANSLATIONS, Texts, catalogue
from ssa.web.render import TEMPLATES

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = ("fr", "nl")  # English is the source language


def extracted() -> set[str | tuple[str, ...]]:
    """What `make messages` would extract now, as msgids."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    ids: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        ids.add(message if isinstance(message, str) else tuple(message[:2]))
    return ids


def po(language: str) -> Catalog:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source, locale=language)


def msgids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_catalogues_are_in_step_with_the_code(language: str) -> None:
    want = extracted()
    have = msgids(po(language))
    assert not want - have, f"new messages not in {language}: run `make messages`"
    assert not have - want, f"messages no longer used in {language}: run `make messages`"


@pytest.mark.parametrize("language", TRANSLATED)
def test_french_and_dutch_are_fully_translated(language: str) -> None:
    catalog = po(language)
    untranslated = [
        m.id
        for m in catalog
        if m.id and (m.fuzzy or not m.string or (isinstance(m.string, tuple) and not all(m.string)))
    ]
    assert untranslated == [], f"untranslated in {language}: {untranslated}"
    # Placeholders kept (python-format checks of Babel).
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert problems == []


def test_the_catalogue_is_used() -> None:
    assert catalogue("fr").gettext("Log in") == "Se connecter"
    assert catalogue("nl").gettext("Log in") == "Aanmelden"
    assert catalogue("en").gettext("Log in") == "Log in"
    assert (
        Texts("nl").ngettext(
            "Wrong PIN. %(num)d try left before the card is locked.",
            "Wrong PIN. %(num)d tries left before the card is locked.",
            1,
        )
        == "Verkeerde pincode. Nog 1 poging voordat de kaart wordt geblokkeerd."
    )


_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_TAG = re.compile(r"<[^>]*>", re.DOTALL)
_SCRIPTLESS = re.compile(r"<(script|style)\b.*?</\1>", re.DOTALL)
_TEXT_ATTRIBUTE = re.compile(r'\b(aria-label|title|alt|placeholder)="([^"]*)"')


@pytest.mark.parametrize(
    "template", sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html"))
)
def test_templates_have_no_untranslated_text(template: str) -> None:
    """Outside `{{ _("...") }}` and `{% trans %}`, a template shows no words of its own."""
    source = (TEMPLATES / template).read_text()
    for name, value in _TEXT_ATTRIBUTE.findall(source):
        assert not re.search(r"[A-Za-z]", _JINJA.sub("", value)), f"{name}={value!r}"
    without_trans = re.sub(r"\{%\s*trans\b.*?\{%\s*endtrans\s*%\}", "", source, flags=re.DOTALL)
    without_trans = re.sub(r"\{% block body_class %\}[\w-]*", "", without_trans)  # a CSS class
    visible = _TAG.sub(" ", _JINJA.sub(" ", _SCRIPTLESS.sub(" ", without_trans)))
    words = re.findall(r"[A-Za-zÀ-ÿ]{2,}", visible.replace("&nbsp;", " ").replace("&amp;", " "))
    assert words == [], f"words shown untranslated in {template}: {words}"


def test_amounts_and_dates_follow_the_locale() -> None:
    moment = datetime(2026, 3, 7, 16, 45, tzinfo=UTC)  # 17:45 in Bordeaux
    assert Texts("fr").money(123_456) == "1\u202f234,56\u00a0€"
    assert Texts("nl").money(123_456) == "€\u00a01.234,56"
    assert Texts("en").money(123_456) == "€1,234.56"
    assert Texts("fr").date(moment) == "7 mars 2026"
    assert Texts("nl").date(moment) == "7 maart 2026"
    assert Texts("en").date(moment) == "March 7, 2026"
    assert Texts("fr").time(moment) == "17:45"
    assert Texts("fr").period("2026-03") == "mars 2026"
    assert Texts("nl").period("2026-03") == "maart 2026"
