"""A small valid plan written into a temporary folder, for tests to break one thing at a time.

Line numbers matter: tests assert them, so keep these texts as they are (add to the end).
"""

from __future__ import annotations

from pathlib import Path

from newsletter.plan import PlanError

AGENCIES = (
    "police",
    "health",
    "education",
    "childrens-social-care",
    "adult-social-care",
    "probation",
    "housing",
    "voluntary",
    "other",
)

PLAN_YAML = """\
send_slot:
  day: 1st tue
  time: "09:00"
  timezone: Europe/London
draft_lead_days: 10
"""

CATALOGUE_YAML = """\
items:
  - id: course-icon
    kind: course
    title: "ICON: Babies cry, you can cope"
    summary: Coping with a crying baby.
    url: https://learning.example.org/courses/icon
    link_text: Book the ICON eLearning course
    format: eLearning
    booking_closes: 2026-12-31
  - id: briefing-nai
    kind: briefing
    title: "Safer7: Non-Accidental Injury"
    summary: Bruising in babies who are not yet mobile.
    url: https://www.safeguarding.example.org/safer7/nai
    link_text: Read the Safer7 on Non-Accidental Injury
"""

THEME_YAML = """\
month: 2026-07
title: Non-Accidental Injuries
subject: "July's learning: Non-Accidental Injuries"
preheader: ICON, child protection medicals and courses to book
audience: [children]
intro: During July the focus is on Non-Accidental Injuries.
sections:
  - title: Training
    items:
      - ref: course-icon
  - title: Safer7 Briefings
    items:
      - ref: briefing-nai
        agencies: [health, police]
"""


def write_plan(root: Path) -> Path:
    """A valid plan in ``root/campaigns``: one course, one briefing, July 2026."""
    plan_dir = root / "campaigns"
    (plan_dir / "catalogue").mkdir(parents=True)
    (plan_dir / "themes").mkdir()
    (plan_dir / "plan.yaml").write_text(PLAN_YAML, encoding="utf-8")
    (plan_dir / "catalogue" / "items.yaml").write_text(CATALOGUE_YAML, encoding="utf-8")
    (plan_dir / "themes" / "2026-07.yaml").write_text(THEME_YAML, encoding="utf-8")
    return plan_dir


def edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must be there exactly once) with ``new`` in ``path``."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not in {path} exactly once"
    path.write_text(text.replace(old, new), encoding="utf-8")


def where(error: PlanError, plan_dir: Path) -> str:
    """``themes/2026-07.yaml:10``: the error's place, relative to the plan folder."""
    rel = Path(error.file).relative_to(plan_dir).as_posix()
    return f"{rel}:{error.line}"


EXTRA_YAML = """\
month: 2026-07-correction
title: "Correction: Safer7 on Non-Accidental Injury"
subject: "Correction to July's bulletin: the Safer7 link"
preheader: The right link to the Safer7 briefing
audience: [children]
send:
  date: 2026-07-16
  time: "10:00"
intro: July's bulletin linked the wrong Safer7 page. Here is the right one.
sections:
  - title: Safer7 Briefings
    items:
      - ref: briefing-nai
"""


def write_extra(plan_dir: Path, text: str = EXTRA_YAML, name: str = "2026-07-correction") -> Path:
    """Add an extra edition of July 2026 (a correction, out on 16 July at 10:00) to the plan."""
    path = plan_dir / "themes" / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path
