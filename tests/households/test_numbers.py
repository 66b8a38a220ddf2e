"""Member numbers: the canonical form, and the Damm check digit catching typing mistakes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssa.households.numbers import MemberNumberInvalid, format_number, normalise
from tests.households.helpers import damm_valid

prefixes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3)
sequences = st.integers(min_value=0, max_value=999_999)


def refused(candidate: str) -> bool:
    try:
        normalise(candidate)
    except MemberNumberInvalid as exc:
        assert exc.code == "member_number_invalid"
        assert exc.status == 422
        return True
    return False


@given(prefixes, sequences)
def test_numbers_made_are_valid_and_checked_by_damm(prefix: str, sequence: int) -> None:
    number = format_number(prefix, sequence)
    assert len(number) == 10
    assert number[:3] == prefix
    assert int(number[3:9]) == sequence
    assert damm_valid(number[3:])
    assert normalise(number) == number


@given(prefixes, sequences, st.data())
def test_spaces_hyphens_and_lower_case_are_accepted(
    prefix: str, sequence: int, data: st.DataObject
) -> None:
    number = format_number(prefix, sequence)
    separators = st.sampled_from(["", " ", "-", "  ", " - "])
    typed = "".join(char + data.draw(separators) for char in number)
    if data.draw(st.booleans()):
        typed = typed.lower()
    assert normalise(f" {typed} ") == number


@given(prefixes, sequences)
def test_every_single_digit_substitution_is_refused(prefix: str, sequence: int) -> None:
    number = format_number(prefix, sequence)
    for position in range(3, 10):
        for digit in "0123456789":
            if digit != number[position]:
                wrong = number[:position] + digit + number[position + 1 :]
                assert refused(wrong), wrong


@given(prefixes, sequences)
def test_every_adjacent_transposition_is_refused(prefix: str, sequence: int) -> None:
    number = format_number(prefix, sequence)
    # The digits, and the letter next to the first digit (the format catches that one).
    for position in range(2, 9):
        a, b = number[position], number[position + 1]
        if a != b:
            swapped = number[:position] + b + a + number[position + 2 :]
            assert refused(swapped), swapped


@pytest.mark.parametrize(
    "candidate",
    ["", "BOR", "BOR123456", "BOR12345678", "BO1234567", "1231234567", "BÖR0000000", "BOR 0000 01"],
)
def test_malformed_numbers_are_refused(candidate: str) -> None:
    assert refused(candidate)


def test_only_ascii_digits_are_digits() -> None:
    number = format_number("BOR", 123456)
    arabic_indic = number[:3] + "".join(chr(0x0660 + int(d)) for d in number[3:])
    assert refused(arabic_indic)


def test_the_problem_body_has_the_contract_code() -> None:
    with pytest.raises(MemberNumberInvalid) as caught:
        normalise("BOR0000001")  # '0000001' fails the check
    body = caught.value.body()
    assert body["code"] == "member_number_invalid"
    assert body["status"] == 422
