"""Migration 0006_staff: the administrators of before become staff users holding the admin role."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from newsletter.db import make_engine, migrate


def test_existing_administrators_become_admins_with_their_password_hash(tmp_path: Path) -> None:
    # SQLite only: the PostgreSQL test database is shared at head; this needs a fresh one.
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "0005_lists")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO adminuser (email, password_hash, created_at) VALUES "
                "('comms@example.org', 'scrypt$14$8$1$salt$hash', '2026-01-01 00:00:00.000000')"
            )
        )
    migrate(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT u.email, u.password_hash, r.role FROM staff_user u "
                "JOIN user_role r ON r.user_id = u.id"
            )
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("comms@example.org", "scrypt$14$8$1$salt$hash", "admin")]
