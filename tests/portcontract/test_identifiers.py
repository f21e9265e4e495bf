import pytest

from portcontract.identifiers import (
    InvalidIdentifier,
    check_container_reference,
    check_imo,
    check_unlocode,
    is_imo,
    is_iso6346,
    iso6346_check_digit,
)


@pytest.mark.parametrize("number", ["CSQU3054383", "APZU4812090"])
def test_known_good_container_numbers(number: str) -> None:
    assert is_iso6346(number)
    assert check_container_reference(number) == number


def test_container_number_is_normalised() -> None:
    assert check_container_reference(" csqu 305438-3 ") == "CSQU3054383"


def test_wrong_check_digit_says_which_digit_is_expected() -> None:
    with pytest.raises(InvalidIdentifier, match="should be 3, not 4"):
        check_container_reference("CSQU3054384")


def test_iso_attempt_with_wrong_length_is_refused() -> None:
    with pytest.raises(InvalidIdentifier, match="has 10 characters"):
        check_container_reference("CSQU305438")


def test_non_iso_dcsa_reference_is_accepted_but_not_iso() -> None:
    assert check_container_reference("SOC12345") == "SOC12345"
    assert not is_iso6346("SOC12345")


@pytest.mark.parametrize("bad", ["", "ABC-!!", "X" * 16])
def test_malformed_reference_is_refused(bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        check_container_reference(bad)


def test_check_digit_letter_values_skip_multiples_of_eleven() -> None:
    # A=10, B=12 (11 skipped): the digit differs from a naive A=10, B=11 table.
    assert iso6346_check_digit("CSQU305438") == 3


@pytest.mark.parametrize("imo", ["9321483", "9319466", "IMO 9321483"])
def test_known_good_imo_numbers(imo: str) -> None:
    assert is_imo(check_imo(imo))


def test_bad_imo_check_digit() -> None:
    with pytest.raises(InvalidIdentifier, match="should be 3, not 4"):
        check_imo("9321484")


def test_imo_must_have_seven_digits() -> None:
    with pytest.raises(InvalidIdentifier, match="7 digits"):
        check_imo("93214")


def test_unlocode() -> None:
    assert check_unlocode("us lax") == "USLAX"
    with pytest.raises(InvalidIdentifier, match="UN/LOCODE"):
        check_unlocode("USLA1")
