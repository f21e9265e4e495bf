"""Identifier checks against oracles written here from the published formulas, never from the
code under test: ISO 6346 (container numbers), IMO (vessel numbers), UN/LOCODE, MMSI, SMDG."""

import string

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from portcontract.identifiers import (
    InvalidIdentifier,
    check_container_reference,
    check_imo,
    check_unlocode,
    imo_check_digit,
    is_imo,
    is_iso6346,
    is_mmsi,
    is_smdg_terminal_code,
    iso6346_check_digit,
    normalise_container_reference,
)


def iso6346_letter_values() -> dict[str, int]:
    """ISO 6346 section 3.13: A is 10, each next letter one more, skipping 11, 22 and 33."""
    values: dict[str, int] = {}
    value = 10
    for letter in string.ascii_uppercase:
        while value % 11 == 0:
            value += 1
        values[letter] = value
        value += 1
    return values


LETTER_VALUES = iso6346_letter_values()


def iso6346_remainder(first_ten: str) -> int:
    """Sum of each character's value times 2 to the power of its position, modulo 11."""
    total = 0
    for position, char in enumerate(first_ten):
        value = LETTER_VALUES[char] if char in LETTER_VALUES else int(char)
        total += value * 2**position
    return total % 11


def iso6346_oracle(first_ten: str) -> int:
    """The check digit: the remainder, except that a remainder of 10 is written as 0."""
    remainder = iso6346_remainder(first_ten)
    return 0 if remainder == 10 else remainder


def imo_oracle(first_six: str) -> int:
    """The IMO check digit: the first six digits weighted 7, 6, 5, 4, 3, 2; the sum's last
    digit."""
    weights = (7, 6, 5, 4, 3, 2)
    return sum(int(d) * w for d, w in zip(first_six, weights, strict=True)) % 10


# Owner code + category + serial whose sum leaves remainder 10 (check digit 0), found with the
# oracle above; ISO 6346 advises against issuing them, but they exist and must be accepted.
REMAINDER_TEN = ["CSQU000007", "MSKU000008", "TGHU000004", "APZU000000", "MAEU000004"]

# Deterministic: the same examples on every run, no example database.
PROPERTY = settings(max_examples=300, derandomize=True, database=None)
owner_codes = st.text(alphabet=string.ascii_uppercase, min_size=3, max_size=3)
categories = st.sampled_from("UJZ")
serials = st.text(alphabet=string.digits, min_size=6, max_size=6)
first_tens = st.builds(lambda o, c, s: o + c + s, owner_codes, categories, serials)


def test_the_oracles_letter_table_is_the_published_one() -> None:
    # ISO 6346 Annex A, as printed: A=10, K=21, L=23, U=32, V=34, Z=38.
    assert [LETTER_VALUES[c] for c in "AKLUVZ"] == [10, 21, 23, 32, 34, 38]
    assert not any(v % 11 == 0 for v in LETTER_VALUES.values())


@pytest.mark.parametrize("number", ["CSQU3054383", "APZU4812090"])
def test_known_good_container_numbers(number: str) -> None:
    assert iso6346_oracle(number[:10]) == int(number[10])
    assert is_iso6346(number)
    assert check_container_reference(number) == number


@pytest.mark.parametrize("first_ten", REMAINDER_TEN)
def test_a_remainder_of_ten_gives_check_digit_zero(first_ten: str) -> None:
    assert iso6346_remainder(first_ten) == 10
    assert iso6346_check_digit(first_ten) == 0
    assert is_iso6346(first_ten + "0")
    assert check_container_reference(first_ten + "0") == first_ten + "0"
    for wrong in "123456789":
        assert not is_iso6346(first_ten + wrong), wrong
    with pytest.raises(InvalidIdentifier, match=r"the last digit should be 0, not 1$"):
        check_container_reference(first_ten + "1")


@PROPERTY
@given(first_ten=first_tens)
@example(first_ten="CSQU000007")  # remainder 10
@example(first_ten="CSQU305438")
def test_check_digit_matches_the_published_formula(first_ten: str) -> None:
    digit = iso6346_oracle(first_ten)
    assert iso6346_check_digit(first_ten) == digit
    assert is_iso6346(first_ten + str(digit))
    assert check_container_reference((first_ten + str(digit)).lower()) == first_ten + str(digit)
    wrong = str((digit + 1) % 10)
    assert not is_iso6346(first_ten + wrong)
    with pytest.raises(InvalidIdentifier) as refused:
        check_container_reference(first_ten + wrong)
    assert str(refused.value) == (
        f"container number {first_ten + wrong!r} fails the ISO 6346 check digit: "
        f"the last digit should be {digit}, not {wrong}"
    )


def test_container_number_is_normalised() -> None:
    assert normalise_container_reference(" csqu 305438-3\t") == "CSQU3054383"
    assert check_container_reference(" csqu 305438-3 ") == "CSQU3054383"
    assert check_container_reference("soc-12345") == "SOC12345"


def test_wrong_check_digit_says_which_digit_is_expected() -> None:
    with pytest.raises(InvalidIdentifier) as refused:
        check_container_reference("CSQU3054384")
    assert str(refused.value) == (
        "container number 'CSQU3054384' fails the ISO 6346 check digit: "
        "the last digit should be 3, not 4"
    )


@pytest.mark.parametrize(
    ("number", "length"), [("CSQU305438", 10), ("CSQU30543830", 12), ("CSQU3", 5)]
)
def test_iso_attempt_with_wrong_length_is_refused(number: str, length: int) -> None:
    with pytest.raises(InvalidIdentifier) as refused:
        check_container_reference(number)
    assert str(refused.value) == (
        f"container number {number!r} has {length} characters; an ISO 6346 number has 11 "
        "(4 letters, 6 digits, 1 check digit)"
    )


@pytest.mark.parametrize("reference", ["SOC12345", "CSQX3054384", "CSQ3054384", "A", "X" * 15])
def test_non_iso_dcsa_reference_is_accepted_but_not_iso(reference: str) -> None:
    assert check_container_reference(reference) == reference
    assert not is_iso6346(reference)


def test_an_empty_reference_says_so() -> None:
    for empty in ("", "  ", " - "):
        with pytest.raises(InvalidIdentifier) as refused:
            check_container_reference(empty)
        assert str(refused.value) == "container number is empty"


@pytest.mark.parametrize("bad", ["ABC-!!", "X" * 16, "CSQU 3054383/1"])
def test_malformed_reference_is_refused(bad: str) -> None:
    with pytest.raises(InvalidIdentifier) as refused:
        check_container_reference(bad)
    assert str(refused.value) == (
        f"container number {bad!r} is neither an ISO 6346 number (like CSQU3054383) nor an "
        "equipment reference of at most 15 letters and digits"
    )


@pytest.mark.parametrize("number", ["csqu3054383", "CSQU305438X3", "CSQU3054383 ", "CSQU3054383\n"])
def test_is_iso6346_takes_only_the_exact_form(number: str) -> None:
    assert not is_iso6346(number)


def test_check_digit_letter_values_skip_multiples_of_eleven() -> None:
    # A=10, B=12 (11 skipped): the digit differs from a naive A=10, B=11 table.
    assert iso6346_check_digit("CSQU305438") == 3


@PROPERTY
@given(first_six=st.text(alphabet=string.digits, min_size=6, max_size=6))
@example(first_six="932148")
def test_imo_check_digit_matches_the_published_formula(first_six: str) -> None:
    digit = imo_oracle(first_six)
    assert imo_check_digit(first_six) == digit
    assert is_imo(first_six + str(digit))
    assert check_imo(first_six + str(digit)) == first_six + str(digit)
    wrong = str((digit + 3) % 10)
    assert not is_imo(first_six + wrong)
    with pytest.raises(InvalidIdentifier) as refused:
        check_imo(first_six + wrong)
    assert str(refused.value) == (
        f"IMO number {first_six + wrong!r} fails its check digit: the last digit should be "
        f"{digit}, not {wrong}"
    )


@pytest.mark.parametrize("short_or_long", ["93214", "9321483"])
def test_imo_check_digit_takes_exactly_six_digits(short_or_long: str) -> None:
    with pytest.raises(ValueError, match="zip"):
        imo_check_digit(short_or_long)


@pytest.mark.parametrize("imo", ["9321483", "9319466", "IMO 9321483", " imo9321483 "])
def test_known_good_imo_numbers(imo: str) -> None:
    assert check_imo(imo) == imo.strip().upper().removeprefix("IMO").strip()
    assert is_imo(check_imo(imo))


def test_bad_imo_check_digit() -> None:
    with pytest.raises(InvalidIdentifier, match="should be 3, not 4"):
        check_imo("9321484")


@pytest.mark.parametrize(
    "bad", ["93214", "93214830", "932148A", "IMO", "9321483 IMO", "IMO 932\n1483"]
)
def test_imo_must_have_seven_digits(bad: str) -> None:
    with pytest.raises(InvalidIdentifier) as refused:
        check_imo(bad)
    assert str(refused.value) == f"IMO number {bad!r} must be 7 digits"


@pytest.mark.parametrize("number", ["IMO9321483", "932148", "93214830", "9321484", "9321483\n"])
def test_is_imo_takes_only_seven_digits_with_the_right_check_digit(number: str) -> None:
    assert not is_imo(number)


@pytest.mark.parametrize(
    ("raw", "code"),
    [("us lax", "USLAX"), ("USLAX", "USLAX"), ("CN SH2", "CNSH2"), ("NLRT9", "NLRT9")],
)
def test_unlocode_is_normalised(raw: str, code: str) -> None:
    assert check_unlocode(raw) == code


@pytest.mark.parametrize("bad", ["USLA1", "USLA0", "U1LAX", "USLAXX", "USLA", "US-LAX", "USLAX\n"])
def test_unlocode_outside_the_pattern_is_refused(bad: str) -> None:
    with pytest.raises(InvalidIdentifier) as refused:
        check_unlocode(bad)
    assert str(refused.value) == (
        f"UN/LOCODE {bad!r} must be 2 country letters and 3 location letters or digits 2-9 "
        "(like USLAX)"
    )


def test_mmsi_is_nine_digits() -> None:
    assert is_mmsi("366123456")
    bad = ("36612345", "3661234567", "36612345A", " 366123456", "366123456\n")
    assert not any(is_mmsi(n) for n in bad)


def test_smdg_terminal_codes_are_one_to_six_letters_or_digits() -> None:
    assert all(is_smdg_terminal_code(c) for c in ("A", "WBCT", "APMT01", "123456"))
    assert not any(is_smdg_terminal_code(c) for c in ("", "APMT012", "apmt", "AP-MT", "APMT\n"))
