"""Identifier checks: ISO 6346 container numbers, IMO and MMSI vessel numbers,
UN/LOCODEs and SMDG terminal codes.

``check_*`` functions normalise a client's input and raise :class:`InvalidIdentifier` with a
message that says what is wrong; ``is_*`` functions only answer yes or no (for what ports report).
"""

import re

ISO6346_PATTERN = re.compile(r"^[A-Z]{3}[UJZ]\d{6}\d\Z")
# DCSA allows equipment references that are not ISO 6346 (max 15 characters).
DCSA_REFERENCE_PATTERN = re.compile(r"^[A-Z0-9]{1,15}\Z")
# Something that was meant to be an ISO 6346 number: owner code + category + digits.
_ISO_ATTEMPT = re.compile(r"^[A-Z]{3}[UJZ]\d+\Z")
IMO_PATTERN = re.compile(r"^\d{7}\Z")
MMSI_PATTERN = re.compile(r"^\d{9}\Z")
UNLOCODE_PATTERN = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}\Z")
SMDG_PATTERN = re.compile(r"^[A-Z0-9]{1,6}\Z")

# Letter values skip multiples of 11 (ISO 6346 section 3.13).
_LETTER_VALUES = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", (
    10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24,
    25, 26, 27, 28, 29, 30, 31, 32, 34, 35, 36, 37, 38,
), strict=True))  # fmt: skip


class InvalidIdentifier(ValueError):
    """An identifier argument that is malformed; the message says what is wrong."""


def iso6346_check_digit(first_ten: str) -> int:
    """The check digit of an owner code + category + serial number (10 characters)."""
    total = 0
    for i, char in enumerate(first_ten):
        value = _LETTER_VALUES[char] if char.isalpha() else int(char)
        total += value * 2**i
    return total % 11 % 10


def is_iso6346(reference: str) -> bool:
    """True for a well-formed ISO 6346 container number with a correct check digit."""
    return bool(ISO6346_PATTERN.match(reference)) and int(reference[10]) == iso6346_check_digit(
        reference[:10]
    )


def normalise_container_reference(raw: str) -> str:
    """Upper-case and drop the spaces and dashes people type (``csqu 305438-3``)."""
    return re.sub(r"[\s\-]", "", raw).upper()


def check_container_reference(raw: str) -> str:
    """Normalise a container number a client asked for, or say what is wrong with it.

    A reference that looks like an ISO 6346 number must be a correct one; any other reference
    must be a valid DCSA equipment reference (letters and digits, at most 15), since DCSA lets
    carriers use references that are not ISO 6346.
    """
    reference = normalise_container_reference(raw)
    if not reference:
        raise InvalidIdentifier("container number is empty")
    if _ISO_ATTEMPT.match(reference) or ISO6346_PATTERN.match(reference):
        if len(reference) != 11:
            raise InvalidIdentifier(
                f"container number {reference!r} has {len(reference)} characters; an ISO 6346 "
                "number has 11 (4 letters, 6 digits, 1 check digit)"
            )
        expected = iso6346_check_digit(reference[:10])
        if int(reference[10]) != expected:
            raise InvalidIdentifier(
                f"container number {reference!r} fails the ISO 6346 check digit: "
                f"the last digit should be {expected}, not {reference[10]}"
            )
        return reference
    if not DCSA_REFERENCE_PATTERN.match(reference):
        raise InvalidIdentifier(
            f"container number {raw!r} is neither an ISO 6346 number (like CSQU3054383) nor an "
            "equipment reference of at most 15 letters and digits"
        )
    return reference


def imo_check_digit(first_six: str) -> int:
    """The seventh digit of an IMO number: weights 7..2 over the first six, modulo 10."""
    return sum(int(d) * w for d, w in zip(first_six, range(7, 1, -1), strict=True)) % 10


def is_imo(number: str) -> bool:
    return bool(IMO_PATTERN.match(number)) and int(number[6]) == imo_check_digit(number[:6])


def check_imo(raw: str) -> str:
    """Normalise an IMO vessel number (``IMO 9321483`` is accepted), or say what is wrong."""
    number = re.sub(r"^IMO", "", raw.strip().upper()).strip()
    if not IMO_PATTERN.match(number):
        raise InvalidIdentifier(f"IMO number {raw!r} must be 7 digits")
    expected = imo_check_digit(number[:6])
    if int(number[6]) != expected:
        raise InvalidIdentifier(
            f"IMO number {number!r} fails its check digit: the last digit should be "
            f"{expected}, not {number[6]}"
        )
    return number


def is_mmsi(number: str) -> bool:
    return bool(MMSI_PATTERN.match(number))


def check_unlocode(raw: str) -> str:
    """Normalise a UN/LOCODE (``US LAX`` is accepted), or say what is wrong."""
    code = raw.replace(" ", "").upper()
    if not UNLOCODE_PATTERN.match(code):
        raise InvalidIdentifier(
            f"UN/LOCODE {raw!r} must be 2 country letters and 3 location letters or digits 2-9 "
            "(like USLAX)"
        )
    return code


def is_smdg_terminal_code(code: str) -> bool:
    return bool(SMDG_PATTERN.match(code))


# DCSA: transportDocumentReference at most 20 characters, carrierBookingReference at most 35.
DOCUMENT_REFERENCE_LIMITS = {"transportDocumentReference": 20, "carrierBookingReference": 35}
DOCUMENT_REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def check_document_reference(kind: str, raw: str) -> str:
    """A transport document (bill of lading) or booking reference, trimmed; raises
    :class:`InvalidIdentifier` when it cannot be one (empty, too long, spaces or symbols)."""
    reference = raw.strip()
    limit = DOCUMENT_REFERENCE_LIMITS[kind]
    if not reference or len(reference) > limit:
        raise InvalidIdentifier(f"{kind} must be 1 to {limit} characters, not {len(reference)}")
    if not DOCUMENT_REFERENCE_PATTERN.match(reference):
        raise InvalidIdentifier(f"{kind} {reference!r} may hold letters, digits and . _ / - only")
    return reference
