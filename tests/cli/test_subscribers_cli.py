"""`newsletter subscribers ...` and `newsletter init --sample`, as a new user would run them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import Settings
from newsletter.models import (
    ActivityEntry,
    Delivery,
    Event,
    EventType,
    Subscriber,
    SubscriberStatus,
)
from tests.conftest import REPO, TEST_SECRET
from tests.factories import make_bulletin, make_delivery, make_event, make_variant

HEADER = "email,name,agency,audiences\n"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> CliRunner:
    monkeypatch.setenv("NEWSLETTER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("NEWSLETTER_SUBSCRIBERS_DIR", str(REPO / "subscribers"))
    return CliRunner()


def invoke(cli: CliRunner, *args: str) -> tuple[int, str]:
    result = cli.invoke(app, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result.exit_code, " ".join(result.output.split())


def count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Subscriber)).one()


def test_init_sample_loads_the_sample_list_once(cli: CliRunner, engine: Engine) -> None:
    code, out = invoke(cli, "init", "--sample")
    assert code == 0
    assert "sample subscribers: 150 added" in out
    code, out = invoke(cli, "init", "--sample")
    assert "0 added, 150 already there" in out
    assert count(engine) == 150


def test_a_file_with_three_bad_rows_exits_1_naming_their_lines_and_imports_the_rest(
    cli: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    invoke(cli, "init", "--sample")
    path = tmp_path / "staff.csv"
    path.write_text(
        HEADER
        + "new.one@police.example.org,New One,police,children\n"
        + "broken-address,Bad,police,children\n"
        + "new.two@nhs.net,New Two,,adults\n"
        + "new.three@x.org,Three,fire,children\n"
        + "NEW.ONE@police.example.org,Again,police,children\n"
        + "new.four@x.org,Four,housing,both\n",
        encoding="utf-8",
    )
    code, out = invoke(cli, "subscribers", "import", str(path))
    assert code == 1
    assert "rejected rows (3):" in out
    assert re.search(r"line 3: bad address: .* \(broken-address\)", out)
    assert "line 5: unknown agency 'fire' (new.three@x.org)" in out
    assert "line 6: duplicate of line 2 (NEW.ONE@police.example.org)" in out
    assert count(engine) == 153


def test_a_dry_run_writes_nothing(cli: CliRunner, engine: Engine, tmp_path: Path) -> None:
    invoke(cli, "init")
    path = tmp_path / "staff.csv"
    path.write_text(HEADER + "a@x.org,A,police,\n", encoding="utf-8")
    code, out = invoke(cli, "subscribers", "import", str(path), "--dry-run", "--agency", "police")
    assert code == 0
    assert "dry run" in out
    assert count(engine) == 0


def test_an_unreadable_file_is_one_clear_error_without_a_traceback(
    cli: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    invoke(cli, "init", "--sample")
    path = tmp_path / "staff.csv"
    path.write_text("email;name;agency;audiences\na@x.org;A;police;\n", encoding="utf-8")
    code, out = invoke(cli, "subscribers", "import", str(path))
    assert code == 1
    assert "separated by semicolons" in out
    assert "nothing was imported" in out
    assert "Traceback" not in out
    code, out = invoke(cli, "subscribers", "import", str(tmp_path / "missing.csv"))
    assert (code, "no such file" in out) == (1, True)
    code, out = invoke(cli, "subscribers", "import", str(path), "--agency", "nope")
    assert (code, "unknown agency 'nope'" in out) == (1, True)
    assert count(engine) == 150


def test_show_unsubscribe_and_erase_one_person(cli: CliRunner, engine: Engine) -> None:
    invoke(cli, "init", "--sample")
    with Session(engine) as session:
        jo = session.exec(select(Subscriber).order_by(col(Subscriber.id))).first()
        assert jo is not None
        bulletin = make_bulletin(session, month="2026-07")
        variant = make_variant(session, bulletin, agency=jo.agency)
        make_event(session, make_delivery(session, bulletin, jo, variant), type=EventType.open)
        session.commit()
        email, jo_id = jo.email or "", jo.id

    code, out = invoke(cli, "subscribers", "show", email.upper())
    assert code == 0
    assert email in out
    assert "sample data (made-up people)" in out
    assert re.search(r"events\W+open: 1", out)
    assert "2026-07" in out

    code, out = invoke(cli, "subscribers", "unsubscribe", email)
    assert (code, f"{email} unsubscribed" in out) == (0, True)
    code, out = invoke(cli, "subscribers", "unsubscribe", email)
    assert (code, "already unsubscribed" in out) == (0, True)

    code, out = invoke(cli, "subscribers", "erase", email, "--yes")
    assert (code, "erased" in out) == (0, True)
    code, out = invoke(cli, "subscribers", "show", email)
    assert (code, "no subscriber" in out) == (1, True)
    with Session(engine) as session:
        row = session.get(Subscriber, jo_id)
        assert row is not None
        assert (row.email, row.status) == (None, SubscriberStatus.erased)
        assert session.exec(select(func.count()).select_from(Delivery)).one() == 1
        assert session.exec(select(func.count()).select_from(Event)).one() == 2


def test_erase_asks_first(cli: CliRunner, engine: Engine) -> None:
    invoke(cli, "init", "--sample")
    result = cli.invoke(app, ["subscribers", "erase", "harry.khan@police.example.org"], input="n\n")
    assert result.exit_code == 1
    with Session(engine) as session:
        assert session.exec(
            select(Subscriber).where(Subscriber.email == "harry.khan@police.example.org")
        ).one()


def test_export_and_list(cli: CliRunner, tmp_path: Path) -> None:
    invoke(cli, "init", "--sample")
    out_file = tmp_path / "out.csv"
    code, out = invoke(cli, "subscribers", "export", "--out", str(out_file), "--agency", "health")
    assert (code, "26 subscriber(s) written" in out) == (0, True)
    lines = out_file.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "email,name,agency,audiences,status"
    assert len(lines) == 27
    assert all(",health," in line for line in lines[1:])
    code, out = invoke(cli, "subscribers", "list", "--agency", "police", "--limit", "5")
    assert code == 0
    assert "18 subscriber(s)" in out
    assert "and 13 more" in out
    code, out = invoke(cli, "subscribers", "list", "--status", "unsubscribed")
    assert (code, "0 subscriber(s)" in out) == (0, True)


def police_list(tmp_path: Path, count: int, *, extra: str = "") -> Path:
    path = tmp_path / "police.csv"
    rows = "".join(
        f"officer{n}@police.example.org,Officer {n},police,children\n" for n in range(count)
    )
    path.write_text(HEADER + rows + extra, encoding="utf-8")
    return path


def test_sync_shows_the_counts_and_asks_before_writing(
    cli: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    invoke(cli, "subscribers", "import", str(police_list(tmp_path, 10)))
    path = police_list(tmp_path, 9, extra="new@police.example.org,New,,\n")
    result = cli.invoke(app, ["subscribers", "sync", str(path), "--agency", "police"], input="n\n")
    out = " ".join(result.output.split())
    assert result.exit_code == 0
    assert "1 of 10 active people in police (10.0%) are not in the file" in out
    assert "leavers: officer9@police.example.org" in out
    assert "nothing was changed" in out
    assert count(engine) == 10
    code, out = invoke(cli, "subscribers", "sync", str(path), "--agency", "police", "--yes")
    assert code == 0
    assert "police: 1 added, 0 changed, 0 back, 1 marked as having left" in out
    with Session(engine) as session:
        left = session.exec(
            select(Subscriber.email).where(col(Subscriber.status) == SubscriberStatus.left)
        ).all()
    assert left == ["officer9@police.example.org"]
    with Session(engine) as session:
        logged = session.exec(select(ActivityEntry.actor, ActivityEntry.action)).all()
    assert [action for _actor, action in logged] == ["list.import", "list.sync"]
    assert all(actor.startswith("cli:") for actor, _action in logged)


def test_sync_exits_2_when_refused_and_1_when_rows_were_rejected(
    cli: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    invoke(cli, "subscribers", "import", str(police_list(tmp_path, 10)))
    code, out = invoke(
        cli, "subscribers", "sync", str(police_list(tmp_path, 5)), "--agency", "police", "--yes"
    )
    assert code == 2
    assert "sync refused: 5 of the 10 active people in police (50%)" in out
    code, out = invoke(
        cli,
        "subscribers",
        "sync",
        str(police_list(tmp_path, 10, extra="broken@@police.example.org,,,\n")),
        "--agency",
        "police",
        "--yes",
    )
    assert code == 1
    assert "line 12: bad address" in out
    code, out = invoke(
        cli,
        "subscribers",
        "sync",
        str(police_list(tmp_path, 5)),
        "--agency",
        "police",
        "--dry-run",
        "--max-leavers",
        "60",
    )
    assert code == 0
    assert "dry run: nothing written" in out
    with Session(engine) as session:
        statuses = set(session.exec(select(Subscriber.status)).all())
    assert statuses == {SubscriberStatus.active}


def test_a_suppression_list_is_imported_from_the_command_line(
    cli: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    invoke(cli, "subscribers", "import", str(police_list(tmp_path, 2)))
    path = tmp_path / "optouts.csv"
    path.write_text("email,reason\nofficer1@police.example.org,unsubscribed\n", encoding="utf-8")
    code, out = invoke(cli, "subscribers", "suppress", str(path))
    assert code == 0
    assert "│ 1 │ 1 │ 0 │ 1 │ 0 │" in out  # rows, new, already listed, stopped, rejected
    with Session(engine) as session:
        status = session.exec(
            select(Subscriber.status).where(col(Subscriber.email) == "officer1@police.example.org")
        ).one()
    assert status == SubscriberStatus.unsubscribed
