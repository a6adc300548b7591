"""Signed, unguessable tokens that go into every message's links.

A token names what it stands for and carries an HMAC-SHA256 over that, keyed by SECRET_KEY:

* ``d<delivery id>.<mac>``: one delivery (tracking mode ``individual``);
* ``a<bulletin id>-<agency>.<mac>``: one agency's variant (tracking mode ``agency``, the web
  archive): events are attributed to the agency, never to a person;
* ``p<bulletin id>-<agency>.<mac>``: a ``--test-to`` (proof) copy of one variant: its links
  work, and
  nothing is recorded, so test copies never reach a report.

Tokens stay valid for as long as the key does (bulletins are read months later). A token that
does not verify is simply unknown: callers answer 404 and record nothing. After the key is
rotated, tokens are checked against the new key and then each previous key
(SECRET_KEY_PREVIOUS), so links in emails already sent keep working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_MAC_BYTES = 12  # 96 bits: unguessable, and keeps links short
_BODY = re.compile(
    r"^(?:d(?P<delivery>[0-9]{1,18})"
    r"|(?P<scope>[ap])(?P<bulletin>[0-9]{1,18})-(?P<agency>[a-z0-9-]{1,40}))$"
)


@dataclass(frozen=True, slots=True)
class DeliveryRef:
    delivery_id: int


@dataclass(frozen=True, slots=True)
class AgencyRef:
    bulletin_id: int
    agency: str


@dataclass(frozen=True, slots=True)
class ProofRef:
    bulletin_id: int
    agency: str


TokenRef = DeliveryRef | AgencyRef | ProofRef


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def delivery_token(key: bytes, delivery_id: int) -> str:
    body = f"d{delivery_id}"
    return f"{body}.{_mac(key, body)}"


def agency_token(key: bytes, bulletin_id: int, agency: str) -> str:
    body = f"a{bulletin_id}-{agency}"
    return f"{body}.{_mac(key, body)}"


def proof_token(key: bytes, bulletin_id: int, agency: str) -> str:
    body = f"p{bulletin_id}-{agency}"
    return f"{body}.{_mac(key, body)}"


def parse_token(key: bytes | Sequence[bytes], token: str) -> TokenRef | None:
    """What ``token`` stands for, or None when it is malformed, forged or altered.

    ``key`` may be several keys (current first, then previous ones): any of them verifies.
    """
    if len(token) > 100:
        return None
    body, sep, mac = token.partition(".")
    if not sep:
        return None
    match = _BODY.match(body)
    if match is None:
        return None
    keys = (key,) if isinstance(key, bytes) else key
    if not any(hmac.compare_digest(mac.encode(), _mac(k, body).encode()) for k in keys):
        return None
    if match["delivery"] is not None:
        return DeliveryRef(int(match["delivery"]))
    if match["scope"] == "p":
        return ProofRef(int(match["bulletin"]), match["agency"])
    return AgencyRef(int(match["bulletin"]), match["agency"])


def address_hash(normalised_email: str) -> str:
    """The suppression key of an address: SHA-256 of its normalised form."""
    return hashlib.sha256(normalised_email.encode()).hexdigest()


def delivery_token_signer(key: bytes) -> Callable[[int], str]:
    """``delivery_token(key, ·)`` for many ids: the keyed HMAC state is computed once and
    copied per token (a send signs one token per recipient; ``hmac.new`` each time costs more
    than everything else about the recipient)."""
    base = hmac.new(key, digestmod=hashlib.sha256)

    def sign(delivery_id: int) -> str:
        body = f"d{delivery_id}"
        mac = base.copy()
        mac.update(body.encode())
        digest = base64.urlsafe_b64encode(mac.digest()[:_MAC_BYTES]).decode().rstrip("=")
        return f"{body}.{digest}"

    return sign
