"""Address normalisation, agency domains and audiences: pure functions, no database."""

from __future__ import annotations

import pytest

from newsletter.subscribers import (
    AddressError,
    AgencyDomains,
    normalise_email,
    parse_address,
    parse_audiences,
)
from newsletter.tokens import address_hash

DOMAINS = AgencyDomains.from_pairs(
    [
        ("police", ["police.uk", "police.example.org"]),
        ("health", ["nhs.net"]),
        ("childrens-social-care", ["council.example.org"]),
        ("adult-social-care", ["council.example.org"]),
        ("other", []),
    ]
)


def test_an_address_is_trimmed_and_lower_cased() -> None:
    assert normalise_email("  Jo.Bloggs@Police.Example.ORG \t") == "jo.bloggs@police.example.org"


def test_a_display_name_form_is_split_into_name_and_address() -> None:
    parsed = parse_address("Jo Bloggs <Jo@X.org>")
    assert (parsed.display_name, parsed.email) == ("Jo Bloggs", "jo@x.org")
    assert parsed.address_hash == address_hash("jo@x.org")


def test_a_quoted_display_name_with_a_comma_is_accepted() -> None:
    parsed = parse_address('"Bloggs, Jo" <jo@x.org>')
    assert (parsed.display_name, parsed.email) == ("Bloggs, Jo", "jo@x.org")


def test_an_address_in_brackets_without_a_name_is_accepted() -> None:
    assert parse_address("<jo@x.org>").email == "jo@x.org"


@pytest.mark.parametrize(
    "text",
    ["", "   ", "jo", "jo@", "@x.org", "jo@x", "jo bloggs@x.org", "jo@@x.org", "Jo <jo@x.org"],
)
def test_text_that_is_not_an_address_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(AddressError) as error:
        parse_address(text)
    assert str(error.value)


def test_an_over_long_address_is_refused() -> None:
    with pytest.raises(AddressError, match="longer than"):
        normalise_email("a" * 400 + "@x.org")


def test_no_dns_look_up_is_made_for_an_unregistered_domain() -> None:
    assert normalise_email("jo@surely-not-registered-domain-0912.example") == (
        "jo@surely-not-registered-domain-0912.example"
    )


def test_a_domain_suggests_its_one_agency_including_subdomains() -> None:
    assert DOMAINS.suggest("jo@nhs.net") == "health"
    assert DOMAINS.suggest("jo@gp.nhs.net") == "health"
    assert DOMAINS.suggest("jo@evilnhs.net") is None


def test_a_domain_shared_by_two_agencies_suggests_neither() -> None:
    assert DOMAINS.suggest("jo@council.example.org") is None
    assert DOMAINS.candidates("jo@council.example.org") == [
        "childrens-social-care",
        "adult-social-care",
    ]


def test_an_address_at_another_agencys_domain_is_flagged() -> None:
    assert DOMAINS.mismatch("jo@nhs.net", "police") == "nhs.net is typical of health, not police"
    assert DOMAINS.mismatch("jo@nhs.net", "health") is None
    assert DOMAINS.mismatch("jo@gmail.example", "police") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("children", (True, False)),
        ("Adults", (False, True)),
        ("children;adults", (True, True)),
        ("children and adults", (True, True)),
        ("both", (True, True)),
        ("child, adult", (True, True)),
        ("", None),
        ("  ", None),
    ],
)
def test_audiences_are_read_from_the_words_spreadsheets_use(
    text: str, expected: tuple[bool, bool] | None
) -> None:
    assert parse_audiences(text) == expected


def test_unknown_audience_words_are_refused() -> None:
    with pytest.raises(ValueError, match="'kids' not understood"):
        parse_audiences("kids")


TRICKY = [
    "jo@x.org",
    "Jo.Bloggs+news@Police.Example.ORG",
    "o'brien@x.org",
    "a!#$%&'*+/=?^_`{|}~-z@x.org",
    ".jo@x.org",
    "jo.@x.org",
    "jo..bloggs@x.org",
    "jo@x..org",
    "jo@-x.org",
    "jo@x-.org",
    "jo@x.123",
    "jo@localhost",
    "jo@x.local",
    "jo@x.test",
    "jo@x.invalid",
    "jo@[192.0.2.1]",
    '"jo bloggs"@x.org',
    "jo@x_y.org",
    "jo@xn--bcher-kva.example",
    "jo@bücher.example",
    "jö@x.org",
    "a" * 64 + "@x.org",
    "a" * 65 + "@x.org",
    "a@" + "b" * 63 + ".org",
    "a@" + "b" * 64 + ".org",
    "a@" + ".".join(["b" * 60] * 4) + ".org",
    "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".org",
    "jo@x.org.",
    "jo@@x.org",
    "jo@x,org",
    "jo@X.ORG",
    "JO@x.org",
]


@pytest.mark.parametrize("address", TRICKY)
def test_the_fast_path_gives_email_validators_own_answer(address: str) -> None:
    from newsletter.subscribers.addresses import _full_check

    try:
        expected: str | None = _full_check(address)
    except AddressError:
        expected = None
    try:
        got: str | None = normalise_email(address)
    except AddressError:
        got = None
    assert got == expected
