"""Languages of the pages: gettext catalogues (Babel), the visitor's locale, and formats.

The catalogues are the `.po` files under `translations/`; they are compiled in memory
when the app starts (Babel's `write_mo`), so a fresh clone, an installed wheel and the
container image need no build step and can never serve a stale `.mo`. The locale is the
`ssa_lang` cookie set by the language switch, else the best match of `Accept-Language`,
else French (the funds are in France).
"""

import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, negotiate_locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import NullTranslations, Translations
from fastapi import Request

from ssa.funds.service import FUND_TIMEZONE

TRANSLATIONS = Path(__file__).parent / "translations"
DOMAIN = "messages"
# The languages offered, with their own names (shown in the switch, untranslated).
LANGUAGES: dict[str, str] = {"fr": "Français", "nl": "Nederlands", "en": "English"}
DEFAULT_LANGUAGE = "fr"
LANGUAGE_COOKIE = "ssa_lang"


@cache
def catalogue(language: str) -> NullTranslations:
    """The compiled catalogue of `language` (English is the source: its catalogue may be
    empty, and a message missing from any catalogue shows in English)."""
    po = TRANSLATIONS / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as source:
        messages = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, messages, use_fuzzy=False)
    compiled.seek(0)
    return Translations(fp=compiled, domain=DOMAIN)


def _accept_language(header: str) -> list[str]:
    """The languages of an Accept-Language header, best first ('fr-BE;q=0.8' -> 'fr_BE')."""
    weighted = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag.replace("-", "_")))
    return [tag for _, _, tag in sorted(weighted)]


def choose_language(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    preferred = _accept_language(request.headers.get("accept-language", ""))
    # Match 'fr_BE' to 'fr' as well as exact tags.
    preferred += [tag.split("_")[0] for tag in preferred]
    found = negotiate_locale(preferred, list(LANGUAGES), sep="_")
    return found if found in LANGUAGES else DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Texts:
    """What a page needs to speak the visitor's language: messages and formats."""

    language: str

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.language)

    def gettext(self, message: str, **variables: Any) -> str:
        text = catalogue(self.language).gettext(message)
        return text % variables if variables else text

    def ngettext(self, singular: str, plural: str, n: int, **variables: Any) -> str:
        text = catalogue(self.language).ngettext(singular, plural, n)
        return text % {"num": n, **variables}

    def money(self, cents: int) -> str:
        """An amount in cents as the locale writes euros ('12,50 €', '€ 12,50', '€12.50')."""
        return str(format_currency(Decimal(cents) / 100, "EUR", locale=self.language))

    def date(self, day: dt.date | dt.datetime, style: str = "long") -> str:
        if isinstance(day, dt.datetime):
            day = day.astimezone(FUND_TIMEZONE).date()
        return str(format_date(day, format=style, locale=self.language))

    def datetime(self, moment: dt.datetime, style: str = "medium") -> str:
        return str(
            format_datetime(moment, format=style, tzinfo=FUND_TIMEZONE, locale=self.language)
        )

    def time(self, moment: dt.datetime) -> str:
        return str(format_time(moment, format="short", tzinfo=FUND_TIMEZONE, locale=self.language))

    def period(self, period: str) -> str:
        """'2026-11' as 'novembre 2026', 'november 2026', 'November 2026'."""
        year, month = period.split("-")
        text = format_date(dt.date(int(year), int(month), 1), format="LLLL y", locale=self.language)
        return str(text)


def texts_for(request: Request) -> Texts:
    texts: Texts | None = getattr(request.state, "texts", None)
    if texts is None:
        texts = Texts(choose_language(request))
        request.state.texts = texts
    return texts
