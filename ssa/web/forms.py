"""What page forms share: amounts typed by people, calling a service with the unit of
work's semantics, and refusals said in plain words in the visitor's language.
"""

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TypeVar

from babel.numbers import get_decimal_symbol, get_group_symbol
from sqlmodel import Session

from ssa.problems import Problem
from ssa.web.i18n import Texts

T = TypeVar("T")

MAX_AMOUNT_CENTS = 1_000_000  # as the API: at most 10 000 EUR in one payment
_SPACES = " \u00a0\u202f"
# Euros as typed: a space (or a no-break one) only between groups of three digits
# ('1 200,50'), so that '12 50' is refused rather than read as 1,250 EUR; then a comma or
# a point and one or two digits of cents.
_EUROS = re.compile(r"^([0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+|[0-9]{1,12})(?:[.,]([0-9]{1,2}))?$")


@cache
def _grouped_euros(language: str) -> re.Pattern[str] | None:
    """Euros grouped as `language` writes them when its grouping sign is a point or a
    comma ('25,000.00' in English, '25.000,00' in Dutch): groups of three, then only the
    language's decimal sign. None when the language groups with a space (French)."""
    group, decimal = get_group_symbol(language), get_decimal_symbol(language)
    if group in _SPACES or group == decimal:
        return None
    return re.compile(
        rf"^([0-9]{{1,3}}(?:{re.escape(group)}[0-9]{{3}}){{1,4}})"
        rf"(?:{re.escape(decimal)}([0-9]{{1,2}}))?$"
    )


def N_(message: str) -> str:
    """Marks a message for the catalogues; it is translated where it is shown."""
    return message


def new_form_key() -> str:
    """The hidden key of a form that moves money: a double submit, or a reload of the
    answer, sends it again and the work is done once (the API's Idempotency-Key)."""
    return uuid.uuid4().hex


def valid_form_key(key: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]{32}", key))


def too_long(t: Texts, value: str, limit: int) -> str | None:
    """What to say when `value` is longer than the API accepts (`limit` characters, its
    `max_length`), else None. Forms never cut what was typed: the API refuses a text too
    long (422 `string_too_long`), and so does the page, in words, writing nothing."""
    if len(value) > limit:
        return t.gettext("At most %(count)s characters.", count=limit)
    return None


def parse_euros(
    text: str, *, allow_zero: bool = True, maximum_cents: int, language: str | None = None
) -> int | None:
    """Euros as typed ('1200', '1 200,50', '€ 12.5', '12,50 €') in cents, or None if not an
    amount from 0 (or 0.01) to `maximum_cents`.

    The rule, so that no amount is read two ways:
    - the cents come after a point or a comma, one or two digits: '12,50' and '12.50' are
      both EUR 12.50 in every language (never 1,250: a grouping sign is followed by three
      digits), and '12,505' is refused;
    - thousands may be grouped by a space (or a no-break one), in threes: '1 450,50';
      '12 50' is refused;
    - with the page's `language`, thousands may also be grouped by that language's sign, as
      the pages display amounts: '25,000.00' in English, '25.000,00' in Dutch (and '1,450'
      is EUR 1,450 in English, '1.450' in Dutch). Then the groups are threes and the cents
      come after the language's own decimal sign only: '25.000,00' in English, '1,234,56'
      in English or '1.234.56' in Dutch are refused, as is any mix of the two signs the
      language does not write ('25.000,00' on a French page).
    """
    typed = text.replace("€", "").strip(" \t" + _SPACES)
    match = _EUROS.match(typed)
    if match is None and language is not None and (grouped := _grouped_euros(language)):
        match = grouped.match(typed)
    if match is None:
        return None
    whole = re.sub(r"\D", "", match.group(1))
    cents = int(whole) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if cents > maximum_cents or (cents == 0 and not allow_zero):
        return None
    return cents


def euros_input(t: Texts, cents: int) -> str:
    """Cents as a form shows them for editing, in the page's language and read back by
    `parse_euros`: '1200', '1450.50' in English, '1450,50' in French and Dutch."""
    whole, rest = divmod(cents, 100)
    return f"{whole}" if rest == 0 else f"{whole}{get_decimal_symbol(t.language)}{rest:02d}"


def parse_amount(text: str, language: str | None = None) -> int | None:
    """An amount to pay or refund at the till: from 0.01 to 10,000 EUR."""
    return parse_euros(text, allow_zero=False, maximum_cents=MAX_AMOUNT_CENTS, language=language)


@dataclass(frozen=True)
class Refused:
    """A service said no: the problem, its changes already undone (or kept, for a wrong PIN)."""

    problem: Problem


def attempt(db_session: Session, work: Callable[[], T]) -> T | Refused:
    """Run a service call in a savepoint with the API's semantics: a refusal undoes what
    the call wrote (or keeps it, when the refusal says so: a wrong PIN counts), and the
    page goes on to show the refusal in the same, still usable, transaction."""
    savepoint = db_session.begin_nested()
    try:
        result = work()
    except Problem as problem:
        if problem.keeps_changes:
            savepoint.commit()
        else:
            savepoint.rollback()
        return Refused(problem)
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return result


def problem_message(t: Texts, problem: Problem) -> str:
    """A refusal in plain words, from its stable code and what it carries."""
    extra = problem.extra
    code = problem.code
    if code == "pin_incorrect":
        left = int(extra.get("attempts_left", 0))
        return t.ngettext(
            "Wrong PIN. %(num)d try left before the card is locked.",
            "Wrong PIN. %(num)d tries left before the card is locked.",
            left,
        )
    if code == "pin_locked":
        until = extra.get("locked_until")
        if isinstance(until, str):
            return t.gettext(
                "Too many wrong PINs: the card is locked until %(time)s. The coordinator of"
                " the member's fund can unlock it sooner.",
                time=t.time(datetime.fromisoformat(until)),
            )
    if code == "insufficient_credits":
        return t.gettext(
            "Not enough credits: %(available)s left on this card.",
            available=t.money(int(extra.get("available_cents", 0))),
        )
    if code == "refund_exceeds_payment":
        return t.gettext(
            "That is more than can still be refunded on this payment (%(refundable)s).",
            refundable=t.money(int(extra.get("refundable_cents", 0))),
        )
    if code == "payment_request_expired":
        return t.gettext("This payment request has expired: ask the till for a new one.")
    if code == "payment_request_not_pending":
        return t.gettext(
            "This payment request is no longer waiting: it was paid, cancelled or has expired."
        )
    if code == "direct_debit_invalid" and isinstance(extra.get("member_number"), str):
        return t.gettext(
            "The bank would refuse the debit of household %(number)s: correct its mandate"
            " (the account holder's name), then download the file again.",
            number=str(extra["member_number"]),
        )
    message = PLAIN_WORDS.get(code)
    if message is None:
        return t.gettext("This could not be done. Nothing was changed; please try again.")
    return t.gettext(message)


# The refusals a page can meet, by the API's stable codes.
PLAIN_WORDS = {
    "member_number_invalid": N_(
        "This member number is not valid: check the letters and digits on the card."
    ),
    "member_unknown": N_("No member has this number: check the card."),
    "household_inactive": N_(
        "This card cannot pay: the household is suspended or has left the fund."
    ),
    "outlet_not_accredited": N_(
        "This shop is not accredited by the member's fund: the card cannot pay here."
    ),
    "pin_not_set": N_(
        "No PIN has been chosen for this card yet: the member chooses one in the app or at"
        " the fund."
    ),
    "pin_locked": N_("Too many wrong PINs: the card is locked for a while."),
    "idempotency_conflict": N_("This form was already sent with other values: start again."),
    "not_found": N_("Not found: check what you typed."),
    "validation_error": N_("Check what you typed."),
    "sepa_creditor_id_missing": N_(
        "The fund has no SEPA creditor identifier (ICS) yet: ask the administrator to record"
        " it before producing a direct-debit file."
    ),
    "fund_iban_missing": N_("The fund has no bank account on record yet."),
    "nothing_to_collect": N_(
        "Nobody is to be collected this month: no household under a mandate still owes its"
        " contribution, apart from those in a file already downloaded for the month."
    ),
    "collection_date_past": N_(
        "The collection day must be from tomorrow on: the bank needs a day ahead."
    ),
    "direct_debit_invalid": N_(
        "The bank would refuse this file: check the fund's bank details and the mandates."
    ),
    "email_taken": N_(
        "This email is already the login of another account: leave it empty, or give the"
        " person's own address."
    ),
    "invalid_siret": N_("This SIRET number is not valid: 14 digits, as on the Kbis."),
    "siret_taken": N_("An outlet with this SIRET number is already registered."),
    "invalid_iban": N_("This IBAN is not valid: check it against the outlet's bank details."),
    "invalid_bic": N_("This BIC is not valid: 8 or 11 letters and digits, or leave it empty."),
}
