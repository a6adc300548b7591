"""Password hashing for the web app (bounded, off the event loop) and the second factor (TOTP).

Handlers that hash are plain ``def`` routes, which FastAPI runs in its worker threads; the
semaphore keeps a burst of sign-in attempts from taking every core (argon2-cffi releases the
GIL, so the event loop, which serves clicks and opens, keeps running meanwhile), and no
database transaction is held open while a hash is computed.
"""

from __future__ import annotations

import threading
from datetime import datetime

import pyotp
import segno
from sqlmodel import Session

from newsletter.models import User
from newsletter.passwords import dummy_hash, hash_password, verify_password

_HASHING = threading.BoundedSemaphore(2)
TOTP_ISSUER = "newsletter"


def _end_transaction(db: Session) -> None:
    # Hashing takes tens of milliseconds: never hold a transaction (on SQLite, the database's
    # write lock, which click recording needs) while it runs. The session's objects stay
    # usable (expire_on_commit=False); the next query starts a new transaction.
    db.commit()


def check_password(db: Session, user: User | None, password: str) -> bool:
    """Verify ``password`` for ``user``; as slow for an unknown user or one without a password.
    Commits ``db`` first (see above)."""
    stored = user.password_hash if user is not None and user.password_hash else None
    _end_transaction(db)
    with _HASHING:
        ok = verify_password(password, stored or dummy_hash())
    return ok and stored is not None


def new_hash(db: Session, password: str) -> str:
    """An Argon2id hash of ``password``. Commits ``db`` first (see above)."""
    _end_transaction(db)
    with _HASHING:
        return hash_password(password)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, *, issuer: str) -> str:
    assert user.totp_secret is not None
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=issuer)


def totp_qr_data_uri(uri: str) -> str:
    """The otpauth URI as a QR code, an SVG data: URI (no inline script, allowed by the CSP)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def totp_step(user: User, code: str, *, now: datetime) -> int | None:
    """The time step ``code`` belongs to (this one or its neighbours), or None when it is wrong
    or already used (a code works once)."""
    if user.totp_secret is None:
        return None
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(user.totp_secret)
    step = totp.timecode(now)
    for offset in (0, -1, 1):
        if totp.at(now, counter_offset=offset) == code:
            matched = step + offset
            if user.totp_last_step is not None and matched <= user.totp_last_step:
                return None
            return matched
    return None
