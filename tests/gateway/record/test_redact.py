"""The redactor on its own: where a message is cut, which host names it hides and how a foreign
exception becomes an incident in the log (tests/gateway/test_error_leaks.py drives it through the
gateway)."""

import logging
import re

import pytest
from graphql import GraphQLError

from gateway.record.redact import ErrorRedactor


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("see https://svc:hunter2@db.internal/cargo?x=1 now", "see <redacted> now"),
        ("connect to db.lax.internal:5432 failed", "connect to <redacted> failed"),
        ("cache.internal:65535 is down", "<redacted> is down"),
        ("localhost:8080 refused", "<redacted> refused"),
        ("cannot reach hafen.beispiel-ü.de:8443 now", "cannot reach <redacted> now"),
        ("港口.例子.中国:443 timed out", "<redacted> timed out"),
        ("the 12:30 call, a 3.5:1 ratio", "the 12:30 call, a 3.5:1 ratio"),
        ("from 10.20.30.40 refused", "from <redacted> refused"),
        ("[2001:db8::7] unreachable", "<redacted> unreachable"),
        ("key pgk_3fa9_Secret-x rejected", "key <redacted> rejected"),
        ("sent Bearer eyJhb.G_c~i+O/i-J9= back", "sent <redacted> back"),
        ("sent BEARER abc back", "sent <redacted> back"),
        ('at File "/srv/resolver/app.py", line 12, in resolve (boom)', "at <redacted> (boom)"),
        (
            'failed\nTraceback (most recent call last):\n  File "/srv/app.py", line 3, in f\n'
            "    raise ValueError(x)\nValueError: x",
            "failed\n<redacted>",
        ),
        ("  port USLAX answered 7 of 9 calls  ", "port USLAX answered 7 of 9 calls"),
    ],
)
def test_each_kind_of_internal_detail_is_hidden_and_nothing_else(said: str, shown: str) -> None:
    assert ErrorRedactor().message(said) == shown


def test_a_message_of_exactly_the_limit_stays_whole_and_a_longer_one_is_cut_to_it() -> None:
    redactor = ErrorRedactor()
    assert redactor.message("x" * 1000) == "x" * 1000
    assert redactor.message("x" * 1001) == "x" * 999 + "…"


def test_a_host_name_is_hidden_whole_when_another_port_s_host_is_a_prefix_of_it() -> None:
    redactor = ErrorRedactor(lambda: ["resolver", "resolver.lax.internal", "uslax.test"])
    said = "resolver.lax.internal refused, resolver too, and so did uslax.test"
    assert redactor.message(said) == "<redacted> refused, <redacted> too, and so did <redacted>"


# "hafen-büchér.example" in punycode (RFC 3492), as a validated URL holds it
PUNYCODE = "xn--hafen-bchr-j7a9t.example"


@pytest.mark.parametrize("configured", [PUNYCODE, "hafen-büchér.example"])
def test_an_international_host_name_is_hidden_in_either_spelling(configured: str) -> None:
    redactor = ErrorRedactor(lambda: [configured])
    said = f"refused by {PUNYCODE}, by HAFEN-BÜCHÉR.EXAMPLE and by hafen-büchér.example"
    assert redactor.message(said) == "refused by <redacted>, by <redacted> and by <redacted>"


def test_a_host_name_idna_cannot_spell_is_hidden_as_written() -> None:
    odd = "xn--hafen-bcher-xob.example"  # not valid punycode: IDNA refuses to decode it
    redactor = ErrorRedactor(lambda: [odd])
    assert redactor.message(f"{odd} refused") == "<redacted> refused"


def test_once_the_last_port_is_gone_messages_are_left_as_they_are() -> None:
    hosts = ["uslax.test"]
    redactor = ErrorRedactor(lambda: hosts)
    assert redactor.message("uslax.test is down") == "<redacted> is down"
    hosts.clear()
    assert redactor.message("port USLAX is not registered") == "port USLAX is not registered"


def test_a_foreign_exception_is_logged_with_its_traceback_under_the_incident_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    try:
        raise ValueError("resolver.lax.internal said no")
    except ValueError as caught:
        failure = caught
    with caplog.at_level(logging.ERROR, logger="gateway.record.redact"):
        [entry] = ErrorRedactor().errors([GraphQLError("boom", original_error=failure)])
    incident = entry["extensions"]["incident"]
    assert re.fullmatch(r"[0-9a-f]{12}", incident)  # as README's 3f9a0c12d4e5
    assert entry["message"] == f"internal error (incident {incident})"
    [record] = caplog.records
    assert record.getMessage() == f"an operation failed unexpectedly (incident {incident})"
    assert record.exc_info is not None
    assert record.exc_info[1] is failure
    assert record.exc_info[2] is failure.__traceback__
