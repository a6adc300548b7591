"""`newsletter plan check` and `newsletter plan show` through the real command line app."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import Settings, get_settings
from newsletter.db import make_engine
from newsletter.models import ActivityEntry, BulletinStatus, utcnow
from tests.conftest import REPO
from tests.factories import make_bulletin
from tests.plan_fixtures import edit, write_plan

runner = CliRunner()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The CLI reads its settings from the environment; point them at a fresh DATA_DIR."""
    data_dir = tmp_path / "var"
    monkeypatch.setenv("NEWSLETTER_DATA_DIR", str(data_dir))
    monkeypatch.setenv("NEWSLETTER_PLAN_DIR", str(REPO / "campaigns"))
    monkeypatch.setenv("NEWSLETTER_SUBSCRIBERS_DIR", str(REPO / "subscribers"))
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "cli-test-secret-0123456789")
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    return data_dir


def test_plan_check_on_the_sample_plan_exits_0_with_a_summary(env: Path) -> None:
    result = runner.invoke(app, ["plan", "check"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("plan OK: 18 months (2026-07 to 2027-12)")
    assert result.output.count("\n") == 1


def test_plan_check_lists_every_error_with_its_place_and_exits_1(env: Path, tmp_path: Path) -> None:
    plan_dir = write_plan(tmp_path / "mine")
    edit(plan_dir / "themes" / "2026-07.yaml", "ref: course-icon", "ref: course-ikon")
    edit(plan_dir / "themes" / "2026-07.yaml", "[health, police]", "[health, polise]")

    result = runner.invoke(app, ["plan", "check", str(plan_dir)])

    assert result.exit_code == 1
    lines = result.output.splitlines()
    theme = plan_dir / "themes" / "2026-07.yaml"
    assert lines[0].startswith(
        f"{theme}:10: sections[0].items[0].ref: no catalogue item has the id 'course-ikon'"
    )
    assert lines[1].startswith(f"{theme}:14: sections[1].items[0].agencies[1]: 'polise'")
    assert lines[2] == f"2 errors in the plan at {plan_dir}; nothing was changed."
    assert len(lines) == 3


def test_plan_check_writes_nothing_not_even_the_database(env: Path, tmp_path: Path) -> None:
    plan_dir = write_plan(tmp_path / "mine")
    edit(plan_dir / "plan.yaml", "day: 1st tue", "day: 5th tue")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    assert runner.invoke(app, ["plan", "check", str(plan_dir)]).exit_code == 1
    assert runner.invoke(app, ["plan", "check"]).exit_code == 0

    assert not env.exists()
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_plan_check_reports_a_folder_that_is_not_there(env: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", "check", str(tmp_path / "nowhere")])

    assert result.exit_code == 1
    assert f"{tmp_path / 'nowhere'}: no such folder" in result.output


def test_plan_show_lists_months_send_times_statuses_and_the_next_send(
    env: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("COLUMNS", "200")
    from newsletter.db import make_engine

    engine = make_engine(settings.resolved_database_url)
    with Session(engine) as session:
        make_bulletin(session, month="2026-07", status=BulletinStatus.sent)
        make_bulletin(session, month="2026-08", status=BulletinStatus.approved)
        session.commit()
    engine.dispose()

    result = runner.invoke(app, ["plan", "show", "--at", "2026-07-20T12:00"])

    assert result.exit_code == 0, result.output
    out = result.output
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if "│ 20" in line}
    assert len(rows) == 18
    assert "sent" in rows["2026-07"]
    assert "Tue 07 Jul 2026 09:00 BST" in rows["2026-07"]
    assert "approved" in rows["2026-08"]
    assert "not built" in rows["2026-09"]
    assert "(date set in theme)" in rows["2026-11"]
    assert "Tue 24 Nov 2026 09:00 GMT" in rows["2026-11"]
    assert "(time set in theme)" in rows["2027-10"]
    assert "Next send: 2026-08 Child Neglect, Tue 04 Aug 2026 09:00 BST" in out


def test_plan_show_skips_months_already_sent_when_finding_the_next_send(
    env: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", settings.resolved_database_url)
    from newsletter.db import make_engine

    engine = make_engine(settings.resolved_database_url)
    with Session(engine) as session:
        make_bulletin(session, month="2026-08", status=BulletinStatus.sent)
        session.commit()
    engine.dispose()

    result = runner.invoke(app, ["plan", "show", "--at", "2026-07-20T12:00"])

    assert result.exit_code == 0, result.output
    assert "Next send: 2026-09 Professional Curiosity" in result.output


def test_plan_show_refuses_a_plan_folder_with_errors_before_the_first_import(
    env: Path, tmp_path: Path, monkeypatch
) -> None:
    plan_dir = write_plan(tmp_path / "mine")
    edit(plan_dir / "themes" / "2026-07.yaml", "ref: course-icon", "ref: course-ikon")
    monkeypatch.setenv("NEWSLETTER_PLAN_DIR", str(plan_dir))

    result = runner.invoke(app, ["plan", "show"])

    assert result.exit_code == 1
    assert "course-ikon" in result.output
    assert "nothing was changed" in result.output


def test_plan_show_refuses_a_bad_at_time(env: Path) -> None:
    result = runner.invoke(app, ["plan", "show", "--at", "next tuesday"])
    assert result.exit_code == 1
    assert "not a date and time" in result.output


def test_plan_show_says_approved_out_of_date_past_months_never_sent_and_warns_about_today(
    env: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plan_dir = Path(shutil.copytree(REPO / "campaigns", tmp_path / "mine"))
    monkeypatch.setenv("NEWSLETTER_PLAN_DIR", str(plan_dir))
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("COLUMNS", "200")
    from newsletter.db import make_engine
    from newsletter.plan import load_checked_plan
    from newsletter.plan.digest import month_digest

    plan = load_checked_plan(get_settings())
    engine = make_engine(settings.resolved_database_url)
    with Session(engine) as session:
        for month in ("2026-09", "2026-10"):
            make_bulletin(
                session,
                month=month,
                status=BulletinStatus.approved,
                approved_at=utcnow(),
                month_hash=month_digest(plan, month),
            )
        session.commit()
    engine.dispose()
    # October's theme is edited after its approval; September's is not.
    edit(plan_dir / "themes" / "2026-10.yaml", "title: Self-Neglect", "title: Self Neglect")
    imported = runner.invoke(app, ["plan", "import", str(plan_dir)])
    assert imported.exit_code == 0, imported.output

    # On the morning of August's slot, with no August bulletin at all.
    result = runner.invoke(app, ["plan", "show", "--at", "2026-08-04T07:00"])

    assert result.exit_code == 0, result.output
    rows = {
        line.split("│")[1].strip(): line for line in result.output.splitlines() if "│ 20" in line
    }
    assert "never built: not sent" in rows["2026-07"]
    assert "approved, out of date" in rows["2026-10"]
    assert "out of date" not in rows["2026-09"]
    assert "approved" in rows["2026-09"]
    assert "Warning: today's 09:00 slot (2026-08) has no bulletin: nothing will be sent" in (
        " ".join(result.output.split())
    )


# --- revisions: import, export, history, diff, restore ---------------------------------------


@pytest.fixture
def db_env(env: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("COLUMNS", "200")
    return settings


def test_plan_import_makes_a_revision_and_export_then_import_changes_nothing(
    db_env: Settings, tmp_path: Path
) -> None:
    plan_dir = write_plan(tmp_path / "mine")

    imported = runner.invoke(app, ["plan", "import", str(plan_dir), "-m", "July", "--by", "ann"])
    exported = runner.invoke(app, ["plan", "export", str(tmp_path / "out")])
    again = runner.invoke(app, ["plan", "import", str(tmp_path / "out")])

    assert imported.exit_code == 0, imported.output
    assert imported.output.startswith(f"imported {plan_dir} as revision 1: 1 months")
    assert exported.exit_code == 0, exported.output
    assert "exported revision 1" in exported.output
    assert again.exit_code == 0, again.output
    assert "no changes: the files equal revision 1" in again.output


def test_plan_import_with_errors_prints_them_like_plan_check_and_exits_1(
    db_env: Settings, tmp_path: Path
) -> None:
    plan_dir = write_plan(tmp_path / "mine")
    edit(plan_dir / "themes" / "2026-07.yaml", "ref: course-icon", "ref: course-ikon")

    imported = runner.invoke(app, ["plan", "import", str(plan_dir)])
    checked = runner.invoke(app, ["plan", "check", str(plan_dir)])

    assert imported.exit_code == 1
    assert imported.output == checked.output
    assert "no plan revisions yet" in runner.invoke(app, ["plan", "history"]).output


def test_plan_check_without_a_path_checks_the_current_revision(
    db_env: Settings, tmp_path: Path
) -> None:
    plan_dir = write_plan(tmp_path / "mine")
    assert runner.invoke(app, ["plan", "import", str(plan_dir)]).exit_code == 0
    edit(plan_dir / "themes" / "2026-07.yaml", "ref: course-icon", "ref: course-ikon")

    result = runner.invoke(app, ["plan", "check"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("plan OK: 1 months (2026-07 to 2026-07)")
    assert result.output.rstrip().endswith("(revision 1)")


def test_plan_history_diff_and_restore(db_env: Settings, tmp_path: Path) -> None:
    plan_dir = write_plan(tmp_path / "mine")
    runner.invoke(app, ["plan", "import", str(plan_dir), "-m", "first", "--by", "ann"])
    edit(plan_dir / "themes" / "2026-07.yaml", "title: Training", "title: Courses to book")
    runner.invoke(app, ["plan", "import", str(plan_dir), "-m", "rename", "--by", "bob"])

    diff = runner.invoke(app, ["plan", "diff", "1"])
    restored = runner.invoke(app, ["plan", "restore", "1", "-m", "back", "--by", "cat"])
    history = runner.invoke(app, ["plan", "history"])

    assert diff.exit_code == 0, diff.output
    assert "--- revision 1/themes/2026-07.yaml" in diff.output
    assert "+  - title: Courses to book" in diff.output
    assert restored.exit_code == 0, restored.output
    assert "restored revision 1 as revision 3" in restored.output
    lines = [line for line in history.output.splitlines() if "│" in line]
    assert "restore of 1" in lines[0]
    assert "cat" in lines[0]
    assert "back" in lines[0]
    assert "import" in lines[2]
    assert "ann" in lines[2]
    assert runner.invoke(app, ["plan", "diff", "9"]).exit_code == 1
    engine = make_engine(db_env.resolved_database_url)
    with Session(engine) as session:
        logged = session.exec(select(ActivityEntry.action).order_by(col(ActivityEntry.id))).all()
    engine.dispose()
    assert logged == ["plan.import", "plan.import", "plan.restore"]


def test_init_sample_loads_the_sample_plan_as_the_first_revision(db_env: Settings) -> None:
    result = runner.invoke(app, ["init", "--sample"])

    assert result.exit_code == 0, result.output
    assert "plan: imported" in result.output
    assert "as revision 1" in result.output
    check = runner.invoke(app, ["plan", "check"])
    assert check.output.startswith("plan OK: 18 months (2026-07 to 2027-12)")
