"""One address, made canonical: parsing, normalisation and the agency its domain suggests.

A subscriber's address is stored in one canonical form so that one person is one row, one
suppression key and one duplicate check:

* surrounding white space trimmed, a display-name form (``Jo Bloggs <jo@x.org>``) split into
  name and address;
* syntax checked by email-validator (no DNS look-ups: imports must work offline and fast);
* the whole address lower-cased. RFC 5321 lets a local part be case-sensitive, but no
  mainstream mailbox provider treats it so, and keeping ``Jo@x.org`` and ``jo@x.org`` apart
  would let a suppressed person back in under a different spelling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from newsletter.tokens import address_hash

MAX_ADDRESS_LENGTH = 320  # RFC 3696 errata; also Subscriber.email's column width

# "Jo Bloggs <jo@x.org>" or "\"Bloggs, Jo\" <jo@x.org>": the name part is optional.
_DISPLAY_FORM = re.compile(
    r'^\s*(?:"(?P<quoted>[^"]*)"|(?P<plain>[^"<>]*?))\s*<(?P<addr>[^<>]*)>\s*$'
)


# RFC 5322 dot-atom of atext, as email-validator accepts it for an ASCII local part.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_MAX_LOCAL_LENGTH = 64
_MAX_ASCII_LENGTH = 254


class AddressError(ValueError):
    """The text is not a usable email address; the message says why, in plain words."""


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    email: str  # canonical form
    display_name: str  # from "Name <address>", else ""

    @property
    def address_hash(self) -> str:
        return address_hash(self.email)


def normalise_email(text: str) -> str:
    """The canonical form of a bare address; raises AddressError when it is not one.

    email-validator judges every address. Its domain checks cost most of the time and a
    staff list has few distinct domains, so a plain ASCII address has its domain judged
    once per domain (cached) and only its local part checked here, against the same
    dot-atom rule email-validator applies; anything else takes the full path. A test holds
    both paths to the same answers.
    """
    candidate = text.strip()
    if not candidate:
        raise AddressError("no address")
    if len(candidate) > MAX_ADDRESS_LENGTH:
        raise AddressError(f"address longer than {MAX_ADDRESS_LENGTH} characters")
    local, at, domain = candidate.rpartition("@")
    if (
        at
        and len(candidate) <= _MAX_ASCII_LENGTH
        and len(local) <= _MAX_LOCAL_LENGTH
        and _DOT_ATOM.fullmatch(local)
        and domain.isascii()
    ):
        checked = _checked_domain(domain.lower())
        if checked is not None:
            return f"{local}@{checked}".lower()
    return _full_check(candidate)


def _full_check(candidate: str) -> str:
    try:
        valid = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AddressError(str(exc)) from None
    return valid.normalized.lower()


@lru_cache(maxsize=4096)
def _checked_domain(domain: str) -> str | None:
    """email-validator's normalised form of ``domain``, or None when it refuses it."""
    try:
        return validate_email(f"a@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None  # the full path will give the reason


def parse_address(text: str) -> ParsedAddress:
    """Parse ``jo@x.org`` or ``Jo Bloggs <jo@x.org>``; raises AddressError."""
    match = _DISPLAY_FORM.match(text)
    if match is None:
        return ParsedAddress(email=normalise_email(text), display_name="")
    name = (match["quoted"] if match["quoted"] is not None else match["plain"] or "").strip()
    return ParsedAddress(email=normalise_email(match["addr"]), display_name=name)


def domain_of(email: str) -> str:
    return email.rpartition("@")[2]


def _matches(domain: str, known: str) -> bool:
    """``x.nhs.net`` matches ``nhs.net``; ``evilnhs.net`` does not (label boundary)."""
    return domain == known or domain.endswith("." + known)


@dataclass(frozen=True)
class AgencyDomains:
    """The agencies' typical email domains, for suggesting an agency and flagging mismatches."""

    by_agency: Mapping[str, tuple[str, ...]]
    # domain -> matching agencies; a staff list has few distinct domains, so this stays small.
    _cache: dict[str, list[str]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, Iterable[str]]]) -> AgencyDomains:
        return cls({slug: tuple(d.lower() for d in domains) for slug, domains in pairs})

    def candidates(self, email: str) -> list[str]:
        """Every agency whose domains the address's domain belongs to (often none)."""
        domain = domain_of(email)
        found = self._cache.get(domain)
        if found is None:
            found = [
                slug
                for slug, domains in self.by_agency.items()
                if any(_matches(domain, known) for known in domains)
            ]
            if len(self._cache) < 10_000:
                self._cache[domain] = found
        return list(found)

    def suggest(self, email: str) -> str | None:
        """The one agency the domain points to, or None when none or several do."""
        found = self.candidates(email)
        return found[0] if len(found) == 1 else None

    def mismatch(self, email: str, agency: str) -> str | None:
        """A warning when the domain belongs to other agencies but not to ``agency``."""
        found = self.candidates(email)
        if not found or agency in found:
            return None
        return f"{domain_of(email)} is typical of {', '.join(found)}, not {agency}"
