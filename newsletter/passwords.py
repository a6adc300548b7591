"""Staff passwords: Argon2id (argon2-cffi), with older scrypt hashes still verified and upgraded.

New hashes are Argon2id at OWASP's recommended minimum (19 MiB, 2 iterations, 1 lane), in the
standard PHC string format (``$argon2id$v=19$m=...``). Hashes written before Argon2id was used
look like ``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``: they still verify, and
:func:`needs_rehash` says so, so the sign-in replaces them with Argon2id.

These functions cost tens of milliseconds of CPU each: the web app calls them in a worker thread
(``newsletter.web.staff.accounts``), never on the event loop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # hashing a megabyte of "password" is a cheap way to burn our CPU

_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` with a fresh salt."""
    return _HASHER.hash(password)


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        scheme, log2_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=1 << int(log2_n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=64 << 20,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (Argon2id or legacy scrypt); False otherwise."""
    if len(password) > MAX_LENGTH:
        return False
    if stored.startswith("scrypt$"):
        return _verify_scrypt(password, stored)
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True for a legacy scrypt hash or an Argon2 hash with other parameters than ours."""
    if not stored.startswith("$argon2id$"):
        return True
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


@cache
def dummy_hash() -> str:
    """A hash to verify against when the account is unknown, so both answers take as long."""
    return hash_password("no such account; this hash only spends the same time")


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password must have at most {MAX_LENGTH} characters"
    return None
