"""The plan in the database, as numbered revisions: save, import, export, compare, restore.

A revision holds the plan's documents as text: the same files as ``campaigns/``. Every revision
is checked by :mod:`newsletter.plan.checker` before it is written, with the same messages as
``newsletter plan check``, so a plan with errors never becomes current. The newest revision is
the current plan. A save names the revision it was edited from (its base); when another save
landed in between, it is refused with the difference (:class:`StaleRevision`), so two people
editing at once never overwrite each other. Months already sent are frozen: whatever a save says
about them, their theme stays as it was sent.

Every function writes into the caller's session and leaves the commit to the caller.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from newsletter.config import Settings
from newsletter.db import engine_from_settings
from newsletter.models import Bulletin, BulletinStatus, PlanRevision, utcnow
from newsletter.plan.loader import PlanInvalid, agency_slugs, check_snapshot
from newsletter.plan.model import LoadResult, Plan, PlanError
from newsletter.plan.snapshot import (
    CATALOGUE_DIR,
    THEMES_DIR,
    is_plan_document,
    snapshot_of_documents,
    take_snapshot,
)

log = logging.getLogger(__name__)

Documents = Mapping[str, str]  # "themes/2026-07.yaml" -> its text

# A bulletin in one of these states has gone (or is going) out: its month is frozen.
SENT_STATES = frozenset({BulletinStatus.sending, BulletinStatus.sent, BulletinStatus.failed})

FIRST_START_AUTHOR = "system"


class StaleRevision(Exception):
    """The save was based on revision ``base`` but ``current`` is newer; ``diff`` shows what
    changed in between (from the base to the current revision)."""

    def __init__(self, base: int | None, current: int, diff: str) -> None:
        self.base = base
        self.current = current
        self.diff = diff
        super().__init__(
            f"the plan was changed (revision {current}) since revision {base} you started from; "
            "nothing was saved. Look at the changes, then make your edit again on the current plan"
        )


class RevisionNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Saved:
    """The outcome of a save or import: the current revision afterwards."""

    revision: PlanRevision
    created: bool  # False: the documents equal the current revision, nothing was written
    kept_as_sent: tuple[str, ...] = ()  # months whose theme was kept as sent
    plan: Plan | None = None


@dataclass
class Frozen:
    """Months already sent, each with its theme document as it was sent."""

    documents: dict[str, tuple[str, str]] = field(default_factory=dict)  # month -> (rel, text)

    @property
    def months(self) -> frozenset[str]:
        return frozenset(self.documents)


# --- reading ----------------------------------------------------------------------------------


def current_revision(session: Session) -> PlanRevision | None:
    return session.exec(
        select(PlanRevision).order_by(col(PlanRevision.number).desc()).limit(1)
    ).first()


def get_revision(session: Session, number: int) -> PlanRevision:
    found = session.exec(select(PlanRevision).where(col(PlanRevision.number) == number)).first()
    if found is None:
        raise RevisionNotFound(f"there is no plan revision {number}")
    return found


def revisions(session: Session, *, limit: int | None = None) -> list[PlanRevision]:
    """Newest first."""
    query = select(PlanRevision).order_by(col(PlanRevision.number).desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query).all())


def check_documents(
    documents: Documents,
    *,
    agencies: Collection[str] | None,
    frozen: Collection[str] = (),
    root: Path = Path(""),
) -> LoadResult:
    """The same checks as ``plan check``; error locations are the documents' names."""
    unknown = [rel for rel in documents if not is_plan_document(rel)]
    if unknown:
        return LoadResult(
            None,
            [
                PlanError(rel, None, "", "is not a plan file (plan.yaml, catalogue/, themes/)")
                for rel in sorted(unknown)
            ],
        )
    return check_snapshot(
        snapshot_of_documents(documents, root=root), agencies=agencies, frozen=frozen
    )


def sent_months(session: Session) -> frozenset[str]:
    """Months whose bulletin has gone (or is going) out."""
    rows = session.exec(
        select(Bulletin.month).where(col(Bulletin.status).in_([str(s) for s in SENT_STATES]))
    ).all()
    return frozenset(rows)


def frozen_months(session: Session, current: PlanRevision | None) -> Frozen:
    """Months already sent, with their theme as sent: from the revision the bulletin was built
    from (its plan hash), else the current revision."""
    rows = session.exec(
        select(Bulletin.month, Bulletin.plan_hash).where(
            col(Bulletin.status).in_([str(state) for state in SENT_STATES])
        )
    ).all()
    frozen = Frozen()
    for month, plan_hash in rows:
        sources: list[Documents] = []
        if plan_hash:
            built_from = session.exec(
                select(PlanRevision)
                .where(col(PlanRevision.digest) == plan_hash)
                .order_by(col(PlanRevision.number).desc())
                .limit(1)
            ).first()
            if built_from is not None:
                sources.append(built_from.documents)
        if current is not None:
            sources.append(current.documents)
        for documents in sources:
            found = _theme_document(documents, month)
            if found is not None:
                frozen.documents[month] = found
                break
    return frozen


def _theme_document(documents: Documents, month: str) -> tuple[str, str] | None:
    for suffix in (".yaml", ".yml"):
        rel = f"{THEMES_DIR}/{month}{suffix}"
        if rel in documents:
            return rel, documents[rel]
    return None


def plan_of(
    session: Session, revision: PlanRevision, *, agencies: Collection[str] | None
) -> LoadResult:
    """A stored revision checked (cached by its digest), with sent months judged as sent."""
    return check_documents(revision.documents, agencies=agencies, frozen=sent_months(session))


def current_plan(session: Session, settings: Settings) -> Plan:
    """The current revision as a Plan; raises :class:`PlanInvalid`.

    With no revision yet (the first start of an upgraded install), ``settings.plan_dir`` is
    imported as revision 1 in ``session`` (the caller commits).
    """
    agencies = agency_slugs(settings)
    revision = current_revision(session)
    if revision is None:
        saved = import_first(session, settings)
        if saved.plan is not None:
            return saved.plan
        revision = saved.revision
    result = plan_of(session, revision, agencies=agencies)
    if result.plan is None or result.errors:
        raise PlanInvalid(result.errors)
    return result.plan


def import_first(session: Session, settings: Settings) -> Saved:
    """Import ``settings.plan_dir`` as the first revision, unless some revision exists."""
    try:
        with session.begin_nested():
            return import_directory(
                session,
                settings.plan_dir,
                agencies=agency_slugs(settings),
                author=FIRST_START_AUTHOR,
                message=f"first start: imported {settings.plan_dir}",
                action="first start",
            )
    except StaleRevision:
        # Another process imported it first: theirs is the first revision.
        current = current_revision(session)
        assert current is not None
        return Saved(current, created=False)


# --- writing ----------------------------------------------------------------------------------


def save_documents(
    session: Session,
    documents: Documents,
    *,
    base: int | None,
    author: str,
    message: str,
    agencies: Collection[str] | None,
    action: str = "save",
    restored_from: int | None = None,
    display_root: Path = Path(""),
) -> Saved:
    """Check ``documents`` and make them the current revision.

    Raises :class:`StaleRevision` when ``base`` is not the current revision and
    :class:`PlanInvalid` (every error, as ``plan check`` words it) when the checks fail; nothing
    is written then. Documents equal to the current revision write nothing.
    """
    current = current_revision(session)
    current_number = current.number if current is not None else None
    if base != current_number:
        assert current is not None
        raise StaleRevision(base, current.number, _diff_since(session, base, current))
    frozen = frozen_months(session, current)
    docs = dict(documents)
    kept: list[str] = []
    for month, (rel, text) in sorted(frozen.documents.items()):
        if docs.get(rel) != text:
            docs[rel] = text
            kept.append(month)
    result = check_documents(docs, agencies=agencies, frozen=frozen.months, root=display_root)
    if result.plan is None or result.errors:
        raise PlanInvalid(result.errors)
    plan = result.plan
    if current is not None and current.digest == plan.digest:
        return Saved(current, created=False, kept_as_sent=tuple(kept), plan=plan)
    revision = PlanRevision(
        number=(current_number or 0) + 1,
        parent=current_number,
        restored_from=restored_from,
        action=action,
        author=author,
        message=message.strip(),
        created_at=utcnow(),
        digest=plan.digest,
        documents=docs,
    )
    try:
        with session.begin_nested():
            session.add(revision)
            session.flush()
    except IntegrityError:
        # Someone else took this number between our read and our write.
        newer = current_revision(session)
        assert newer is not None
        raise StaleRevision(base, newer.number, _diff_since(session, base, newer)) from None
    log.info(
        "plan revision %s saved by %s (%s): %s", revision.number, author, action, revision.message
    )
    return Saved(revision, created=True, kept_as_sent=tuple(kept), plan=plan)


def read_directory(path: Path) -> tuple[dict[str, str], list[PlanError]]:
    """The plan files under ``path`` as documents, or the errors that stop them being read."""
    try:
        snapshot = take_snapshot(path)
    except OSError as exc:
        return {}, [
            PlanError(str(exc.filename or path), None, "", f"cannot be read: {exc.strerror}")
        ]
    if not snapshot.exists:
        return {}, [PlanError(str(path), None, "", "no such folder")]
    documents: dict[str, str] = {}
    errors: list[PlanError] = []
    for rel, data in snapshot.files.items():
        try:
            documents[rel] = data.decode("utf-8")
        except UnicodeDecodeError:
            errors.append(
                PlanError(str(path / rel), None, "", "is not UTF-8 text; save it as UTF-8")
            )
    return documents, errors


def import_directory(
    session: Session,
    path: Path,
    *,
    agencies: Collection[str] | None,
    author: str,
    message: str,
    action: str = "import",
) -> Saved:
    """Import the files under ``path`` as a new revision on top of the current one. Errors name
    the files as found under ``path``, exactly as ``plan check PATH`` does."""
    documents, errors = read_directory(path)
    if errors:
        raise PlanInvalid(errors)
    snapshot = take_snapshot(path)
    if not snapshot.folders >= {CATALOGUE_DIR, THEMES_DIR}:
        # Let the folder check say which folder is missing, as plan check PATH does.
        result = check_snapshot(snapshot, agencies=agencies, frozen=sent_months(session))
        raise PlanInvalid(result.errors)
    current = current_revision(session)
    return save_documents(
        session,
        documents,
        base=current.number if current is not None else None,
        author=author,
        message=message,
        agencies=agencies,
        action=action,
        display_root=path,
    )


def restore_revision(
    session: Session,
    number: int,
    *,
    base: int | None,
    author: str,
    message: str,
    agencies: Collection[str] | None,
) -> Saved:
    """Make an old revision's documents current again, as a new revision."""
    old = get_revision(session, number)
    return save_documents(
        session,
        old.documents,
        base=base,
        author=author,
        message=message or f"restored revision {number}",
        agencies=agencies,
        action="restore",
        restored_from=number,
    )


def export_documents(documents: Documents, path: Path) -> tuple[list[str], list[str]]:
    """Write the documents under ``path``; plan files there that the revision lacks are
    removed, so the folder is the revision. Returns (written, removed) names."""
    path.mkdir(parents=True, exist_ok=True)
    existing = take_snapshot(path).files if path.is_dir() else {}
    removed = sorted(rel for rel in existing if rel not in documents)
    for rel in removed:
        (path / rel).unlink()
    written = []
    for rel, text in sorted(documents.items()):
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        if not target.is_file() or target.read_bytes() != data:
            target.write_bytes(data)
            written.append(rel)
    return written, removed


# --- comparing --------------------------------------------------------------------------------


def diff_documents(old: Documents, new: Documents, *, old_label: str, new_label: str) -> str:
    """A unified diff, file by file, of two sets of documents ("" when they are equal)."""
    out: list[str] = []
    for rel in sorted(set(old) | set(new)):
        before = old.get(rel)
        after = new.get(rel)
        if before == after:
            continue
        out.extend(
            difflib.unified_diff(
                (before or "").splitlines(keepends=True),
                (after or "").splitlines(keepends=True),
                fromfile=f"{old_label}/{rel}" if before is not None else "/dev/null",
                tofile=f"{new_label}/{rel}" if after is not None else "/dev/null",
            )
        )
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
    return "".join(out)


def diff_revisions(session: Session, old: int, new: int) -> str:
    a = get_revision(session, old)
    b = get_revision(session, new)
    return diff_documents(
        a.documents, b.documents, old_label=f"revision {old}", new_label=f"revision {new}"
    )


def _diff_since(session: Session, base: int | None, current: PlanRevision) -> str:
    before: Documents = {}
    if base is not None:
        try:
            before = get_revision(session, base).documents
        except RevisionNotFound:
            before = {}
    return diff_documents(
        before,
        current.documents,
        old_label=f"revision {base}" if base is not None else "empty",
        new_label=f"revision {current.number}",
    )


def changed_files(old: Documents, new: Documents) -> list[str]:
    return sorted(rel for rel in set(old) | set(new) if old.get(rel) != new.get(rel))


def load_checked_plan(settings: Settings) -> Plan:
    """The current plan: the newest revision in the database named by ``settings``, checked
    against the agencies in ``settings.subscribers_dir / "agencies.yaml"``; raises
    :class:`PlanInvalid` on any error.

    On the first start of an install that has no revision yet, ``settings.plan_dir`` is imported
    as the first revision (and refused, with its errors, when it does not pass the checks).
    """
    engine = engine_from_settings(settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            plan = current_plan(session, settings)
            session.commit()
            return plan
    finally:
        engine.dispose()
