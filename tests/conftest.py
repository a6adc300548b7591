"""Shared fixtures: settings in a temporary DATA_DIR, and a migrated database per test.

Every test that asks for ``engine`` (or ``session``) runs twice: on SQLite and on PostgreSQL.
PostgreSQL needs NEWSLETTER_TEST_DATABASE_URL; without it those runs skip with a reason, except
under CI=true, where a missing or unreachable database fails the run.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, text
from sqlmodel import Session

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.db import make_engine, migrate

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TEST_SECRET = "test-secret-key-0123456789abcdef"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Property-based tests (hypothesis): no deadline (tests are never timed, and a loaded machine
# would make one flaky), no example database in the working tree, and function-scoped
# fixtures allowed (the database tests roll back after every example themselves).
hypothesis_settings.register_profile(
    "newsletter",
    deadline=None,
    database=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hypothesis_settings.load_profile("newsletter")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's NEWSLETTER_* variables (except the test database URL)."""
    for name in list(os.environ):
        if name.startswith("NEWSLETTER_") and name != "NEWSLETTER_TEST_DATABASE_URL":
            monkeypatch.delenv(name)


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "secret_key": TEST_SECRET,
        "plan_dir": REPO / "campaigns",
        "templates_dir": REPO / "templates",
        "subscribers_dir": REPO / "subscribers",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
def plain_settings(tmp_path: Path) -> Settings:
    """Settings for tests that need no database."""
    return make_settings(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 7, 1, 8, 0, tzinfo=UTC))


@pytest.fixture
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (a ``Browser``).

    Skips with a reason where chromium is not installed, except under CI=true, where it fails.
    """
    if not (Path(CHROMIUM).exists() and shutil.which(CHROMIUM)):
        if IN_CI:
            pytest.fail(f"CI=true but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# --- a real IMAP server --------------------------------------------------------------------

DOVECOT = "/usr/sbin/dovecot"


@dataclass(frozen=True)
class ImapServer:
    host: str
    port: int
    username: str
    password: str

    @property
    def url(self) -> str:
        return f"imap://{self.username}:{self.password}@{self.host}:{self.port}/INBOX"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dovecot_config(folder: Path, *, port: int) -> str:
    if os.geteuid() == 0:
        # Dovecot refuses to run its login processes, or mail access, as root.
        login, internal, mail_user = "dovenull", "dovecot", "dovecot"
        owner = pwd.getpwnam(mail_user)
        os.chown(folder / "mail", owner.pw_uid, owner.pw_gid)
        mail_ids = f"uid={owner.pw_uid} gid={owner.pw_gid}"
    else:
        me = pwd.getpwuid(os.geteuid())
        login = internal = me.pw_name
        mail_ids = f"uid={me.pw_uid} gid={me.pw_gid}"
    return f"""
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{folder}/mail/%u
first_valid_uid = 1
default_login_user = {login}
default_internal_user = {internal}
default_internal_group = {internal}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  driver = static
  args = {mail_ids} home={folder}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@pytest.fixture
def imap_server() -> Iterator[ImapServer]:
    """Debian's Dovecot on 127.0.0.1 with a throwaway configuration and one mailbox.

    Skips with a reason where dovecot-imapd is not installed, except under CI=true.
    """
    if not Path(DOVECOT).exists():
        if IN_CI:
            pytest.fail(f"CI=true but {DOVECOT} is missing (apt-get install dovecot-imapd)")
        pytest.skip(f"{DOVECOT} is not installed (apt-get install dovecot-imapd)")
    # Not under pytest's tmp_path: its 0700 parents would keep dovecot's own users out.
    folder = Path(tempfile.mkdtemp(prefix="newsletter-dovecot-"))
    folder.chmod(0o755)
    for name in ("run", "state", "mail"):
        (folder / name).mkdir()
    server = ImapServer("127.0.0.1", _free_port(), "bounces", secrets.token_hex(8))
    (folder / "users").write_text(f"{server.username}:{{PLAIN}}{server.password}\n")
    config = folder / "dovecot.conf"
    config.write_text(_dovecot_config(folder, port=server.port))
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # until it accepts connections (start-up, not a result, is waited for)
            try:
                with socket.create_connection((server.host, server.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log = folder / "dovecot.log"
                pytest.fail(f"dovecot did not start: {log.read_text() if log.exists() else ''}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)


# --- databases -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (much faster than migrating per test)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _postgres_url() -> str:
    url = os.environ.get("NEWSLETTER_TEST_DATABASE_URL")
    if not url:
        if IN_CI:
            pytest.fail("CI=true but NEWSLETTER_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL tests need NEWSLETTER_TEST_DATABASE_URL")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except Exception as exc:
        engine.dispose()
        if IN_CI:
            pytest.fail(f"cannot reach the test PostgreSQL at {url}: {exc}")
        pytest.skip(f"cannot reach the test PostgreSQL: {exc}")
    engine.dispose()
    migrate(url)
    return url


def _truncate_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        if tables:
            names = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "newsletter.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("_postgres_url")
    _truncate_postgres(url)
    yield url
    _truncate_postgres(url)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s
