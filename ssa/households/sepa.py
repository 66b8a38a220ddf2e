"""Text in a SEPA file: the EPC's basic Latin character set only.

Banks of the SEPA zone must accept `a-z A-Z 0-9 / - ? : ( ) . , ' +` and the space, and
nothing else; a name outside it (an emoji, a Japanese long vowel mark, `&`, `<`) is
refused by the schema or by the bank. Accents and other letters are transliterated
(`Zoé` → `Zoe`, `Straße` → `Strasse`, by the library sepaxml itself uses), the rest is
dropped, spaces are collapsed.
"""

import re

from text_unidecode import unidecode  # type: ignore[import-untyped]

_OUTSIDE = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")
_SPACES = re.compile(r"\s+")
_ALPHANUMERIC = re.compile(r"[A-Za-z0-9]")


def sepa_text(value: str, max_length: int = 70) -> str:
    """`value` in the EPC basic Latin set, at most `max_length` characters; "" when it
    keeps no letter or digit (nothing a bank could show as a name)."""
    latin = _SPACES.sub(" ", unidecode(value))
    kept = _SPACES.sub(" ", _OUTSIDE.sub("", latin)).strip()[:max_length].strip()
    return kept if _ALPHANUMERIC.search(kept) else ""
