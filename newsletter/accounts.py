"""Staff accounts: people, roles, passwords, sessions ended, approvers. Used by CLI and web.

Each function changes the database and writes the activity log in the same transaction; the
caller commits. Passwords arrive here already hashed (hashing is slow: the web app does it in a
worker thread, the CLI inline). The rules that guard the service live here, once:

* an address is one account (normalised, lower-cased);
* the last admin cannot be removed or lose the admin role (nobody could manage users after);
* changing a password or removing a person ends every one of their sessions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from newsletter.activity import record
from newsletter.models import AccountLink, Role, StaffSession, User, UserRole


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why, in plain words."""


@dataclass(frozen=True)
class Person:
    """A user with their roles, for listings."""

    user: User
    roles: frozenset[Role]


def user_id(user: User) -> int:
    """The id of a saved user (flushed or loaded)."""
    if user.id is None:
        raise ValueError(f"{user.email} is not saved yet")
    return user.id


def normalise_email(email: str) -> str:
    """The account key for ``email``: validated and lower-cased; AccountError when invalid."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise AccountError(f"{email!r} is not an email address: {exc}") from exc


def parse_roles(names: Iterable[str]) -> set[Role]:
    roles: set[Role] = set()
    for name in names:
        try:
            roles.add(Role(name.strip().lower()))
        except ValueError:
            choices = ", ".join(r.value for r in Role)
            raise AccountError(f"{name!r} is not a role; choose from {choices}") from None
    return roles


def find_user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(col(User.email) == email.strip().lower())).first()


def get_user(session: Session, email: str) -> User:
    user = find_user(session, email)
    if user is None:
        raise AccountError(f"{email} has no account")
    return user


def roles_of(session: Session, user: User) -> frozenset[Role]:
    rows = session.exec(select(UserRole.role).where(col(UserRole.user_id) == user.id)).all()
    return frozenset(Role(r) for r in rows)


def people(session: Session) -> list[Person]:
    """Everyone, by email, with their roles."""
    users = session.exec(select(User).order_by(col(User.email))).all()
    held: dict[int, set[Role]] = {}
    for user_id, role in session.exec(select(UserRole.user_id, UserRole.role)).all():
        held.setdefault(user_id, set()).add(Role(role))
    return [Person(u, frozenset(held.get(u.id or 0, set()))) for u in users]


def _admin_count(session: Session) -> int:
    return int(
        session.exec(
            select(func.count()).select_from(UserRole).where(col(UserRole.role) == Role.admin)
        ).one()
    )


def add_user(
    session: Session,
    *,
    email: str,
    roles: Iterable[Role],
    actor: User | str,
    name: str = "",
    password_hash: str | None = None,
    now: datetime | None = None,
) -> User:
    """Create an account holding ``roles``; AccountError when the address already has one."""
    address = normalise_email(email)
    if find_user(session, address) is not None:
        raise AccountError(f"{address} already has an account")
    user = User(email=address, name=name.strip()[:200], password_hash=password_hash)
    if password_hash is not None:
        user.password_changed_at = now or user.created_at
    session.add(user)
    session.flush()
    granted = sorted(set(roles))
    for role in granted:
        session.add(UserRole(user_id=user_id(user), role=role))
    session.flush()
    record(
        session,
        actor=actor,
        action="user.add",
        object=f"user:{address}",
        detail="roles: " + (", ".join(granted) or "none"),
    )
    return user


def set_roles(session: Session, user: User, roles: Iterable[Role], *, actor: User | str) -> None:
    """Make ``user`` hold exactly ``roles``; the change is logged role by role."""
    wanted = set(roles)
    current = set(roles_of(session, user))
    if Role.admin in current and Role.admin not in wanted and _admin_count(session) <= 1:
        raise AccountError(f"{user.email} is the last admin; make someone else an admin first")
    for role in sorted(wanted - current):
        session.add(UserRole(user_id=user_id(user), role=role))
        record(session, actor=actor, action="role.grant", object=f"user:{user.email}", detail=role)
    for role in sorted(current - wanted):
        session.execute(
            delete(UserRole).where(col(UserRole.user_id) == user.id, col(UserRole.role) == role)
        )
        record(session, actor=actor, action="role.revoke", object=f"user:{user.email}", detail=role)
    session.flush()


def end_sessions(session: Session, user: User, *, keep: int | None = None) -> int:
    """Delete every session of ``user`` (but the one with id ``keep``); how many ended."""
    stmt = delete(StaffSession).where(col(StaffSession.user_id) == user.id)
    if keep is not None:
        stmt = stmt.where(col(StaffSession.id) != keep)
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def set_password(
    session: Session,
    user: User,
    password_hash: str,
    *,
    actor: User | str,
    now: datetime,
    keep_session: int | None = None,
) -> None:
    """Store a new password hash and end every session of ``user`` (except ``keep_session``)."""
    user.password_hash = password_hash
    user.password_changed_at = now
    user.locked_until = None
    session.add(user)
    ended = end_sessions(session, user, keep=keep_session)
    record(
        session,
        actor=actor,
        action="user.set_password",
        object=f"user:{user.email}",
        detail=f"{ended} other session(s) ended" if ended else "",
    )
    session.flush()


def remove_user(session: Session, user: User, *, actor: User | str) -> None:
    """Delete the account, its roles, sessions and links; the log keeps what they did."""
    if Role.admin in roles_of(session, user) and _admin_count(session) <= 1:
        raise AccountError(f"{user.email} is the last admin; make someone else an admin first")
    end_sessions(session, user)
    session.execute(delete(AccountLink).where(col(AccountLink.user_id) == user.id))
    session.execute(delete(UserRole).where(col(UserRole.user_id) == user.id))
    record(session, actor=actor, action="user.remove", object=f"user:{user.email}")
    session.delete(user)
    session.flush()


def approver_addresses(session: Session) -> list[str]:
    """Everyone holding the approver role, by address."""
    rows = session.exec(
        select(User.email)
        .join(UserRole, col(UserRole.user_id) == col(User.id))
        .where(col(UserRole.role) == Role.approver)
        .order_by(col(User.email))
    ).all()
    return list(rows)


def approvers(session: Session, seed: Sequence[str]) -> list[str]:
    """The people asked to approve bulletins, and the only ones who may: everyone holding the
    approver role. Until somebody holds it, the NEWSLETTER_APPROVERS addresses (``seed``)."""
    holders = approver_addresses(session)
    if holders:
        return holders
    return [address.strip().lower() for address in seed if address.strip()]


def seed_approvers(session: Session, addresses: Iterable[str], *, actor: str) -> list[str]:
    """Give the approver role to each NEWSLETTER_APPROVERS address, only while nobody holds it
    (so a role taken away later stays away). An address without an account gets one without a
    password: they sign in once an admin sends them an invitation. Returns the addresses."""
    wanted = [a for a in addresses if a.strip()]
    if not wanted or approver_addresses(session):
        return []
    seeded: list[str] = []
    for raw in wanted:
        address = normalise_email(raw)
        user = find_user(session, address)
        if user is None:
            add_user(session, email=address, roles=[Role.approver], actor=actor)
        else:
            set_roles(session, user, {*roles_of(session, user), Role.approver}, actor=actor)
        seeded.append(address)
    return seeded
