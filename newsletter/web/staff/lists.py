"""Agency lists in the browser, for admins: upload a CSV to import or sync, see the preview
(adds, changes, leavers, rejected lines) before anything is written, then apply; and each
agency's list health over time.

The uploaded file is kept under DATA_DIR/uploads/ between the preview and the decision (named
by an unguessable id, deleted once applied; files older than a day are swept away), so the
decision applies exactly the file that was previewed, checked again in full.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from newsletter.activity import record
from newsletter.config import Settings
from newsletter.models import Agency
from newsletter.subscribers import (
    DEFAULT_MAX_LEAVERS,
    LIST_STATUSES,
    ImportFileError,
    ImportReport,
    SyncReport,
    import_csv,
    list_health,
    sync_csv,
)
from newsletter.web.deps import ClockDep, EngineDep, SessionDep, SettingsDep
from newsletter.web.staff.auth import CurrentStaff, require, staff_router
from newsletter.web.staff.render import flash, render, see_other

router = staff_router(dependencies=[Depends(require("admin"))])

UPLOAD_PATH = "/admin/lists/upload"
UPLOAD_LIMIT = 50 << 20  # bytes: a 500,000-person list fits
_ID = re.compile(r"[A-Za-z0-9_-]{20,64}")
_KEEP_SECONDS = 24 * 3600
_SHOWN = 200  # rejected lines and notices listed on the preview


def _folder(settings: Settings) -> Path:
    folder = settings.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _sweep(folder: Path) -> None:
    cutoff = time.time() - _KEEP_SECONDS
    for old in folder.glob("*.csv"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


def _agencies(db: Session) -> list[Agency]:
    return list(db.exec(select(Agency).order_by(col(Agency.position))).all())


def _form(
    request: Request,
    db: Session,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "staff/lists/upload.html",
        status_code=status_code,
        values=values,
        errors=errors,
        agencies=_agencies(db),
    )


@router.get("/lists/upload", response_class=HTMLResponse)
def upload_form(request: Request, db: SessionDep) -> HTMLResponse:
    """Choose a file, and whether to import it or sync an agency's list with it."""
    values = {"mode": "sync", "agency": "", "max_leavers": f"{DEFAULT_MAX_LEAVERS:g}"}
    return _form(request, db, values=values, errors={})


def _check(db: Session, mode: str, agency: str, max_leavers: str) -> tuple[dict[str, str], float]:
    errors: dict[str, str] = {}
    if mode not in ("import", "sync"):
        errors["mode-sync"] = "Choose whether to sync an agency's list or import people"
    if agency and db.get(Agency, agency) is None:
        errors["agency"] = "Choose an agency from the list"
    if mode == "sync" and not agency:
        errors["agency"] = "Choose the agency whose complete list this is"
    try:
        share = float(max_leavers)
        if not 0 <= share <= 100:
            raise ValueError
    except ValueError:
        errors["max_leavers"] = "Enter a percentage between 0 and 100, like 20"
        share = DEFAULT_MAX_LEAVERS
    return errors, share


def _preview(
    request: Request,
    db: Session,
    *,
    engine: EngineDep,
    path: Path,
    upload_id: str,
    file_name: str,
    mode: str,
    agency: str,
    share: float,
    now_clock: ClockDep,
) -> HTMLResponse:
    report: ImportReport
    if mode == "sync":
        # The sync works on its own connection: this request's transaction (the staff
        # session's bookkeeping) must not hold SQLite's write lock meanwhile.
        db.commit()
        report = sync_csv(
            engine,
            path,
            agency=agency,
            now=now_clock.now(),
            source_name=file_name,
            max_leavers=share,
            dry_run=True,
        )
    else:
        report = import_csv(
            db,
            path,
            now=now_clock.now(),
            consent_source=f"import of {file_name}",
            default_agency=agency or None,
            dry_run=True,
        )
        db.rollback()
    return render(
        request,
        "staff/lists/preview.html",
        report=report,
        sync=report if isinstance(report, SyncReport) else None,
        mode=mode,
        agency=agency,
        share=f"{share:g}",
        upload_id=upload_id,
        file_name=file_name,
        shown=_SHOWN,
    )


@router.post("/lists/upload", response_class=HTMLResponse)
async def upload(
    request: Request,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    clock: ClockDep,
    file: UploadFile | None = None,
    mode: Annotated[str, Form(max_length=10)] = "",
    agency: Annotated[str, Form(max_length=40)] = "",
    max_leavers: Annotated[str, Form(max_length=10)] = "",
) -> HTMLResponse:
    """Keep the file and show what importing or syncing it would do; nothing is written."""
    values = {"mode": mode, "agency": agency, "max_leavers": max_leavers}
    errors, share = _check(db, mode, agency, max_leavers)
    if file is None or not file.filename:
        errors["file"] = "Choose a CSV file"
    if errors:
        return _form(request, db, values=values, errors=errors, status_code=400)
    assert file is not None
    folder = _folder(settings)
    _sweep(folder)
    upload_id = secrets.token_urlsafe(24)
    path = folder / f"{upload_id}.csv"
    with path.open("wb") as out:
        while chunk := await file.read(1 << 20):
            out.write(chunk)
    file_name = Path(file.filename or "list.csv").name[:100]
    try:
        return _preview(
            request,
            db,
            engine=engine,
            path=path,
            upload_id=upload_id,
            file_name=file_name,
            mode=mode,
            agency=agency,
            share=share,
            now_clock=clock,
        )
    except ImportFileError as exc:
        path.unlink(missing_ok=True)
        errors["file"] = f"{file_name}: {exc}"
        return _form(request, db, values=values, errors=errors, status_code=400)


@router.post("/lists/apply", response_model=None)
def apply(
    request: Request,
    db: SessionDep,
    engine: EngineDep,
    settings: SettingsDep,
    clock: ClockDep,
    staff: CurrentStaff,
    upload_id: Annotated[str, Form(max_length=64)] = "",
    file_name: Annotated[str, Form(max_length=100)] = "list.csv",
    mode: Annotated[str, Form(max_length=10)] = "",
    agency: Annotated[str, Form(max_length=40)] = "",
    max_leavers: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Apply the previewed file (checked again in full: the guard still holds)."""
    errors, share = _check(db, mode, agency, max_leavers)
    path = _folder(settings) / f"{upload_id}.csv"
    if errors or not _ID.fullmatch(upload_id) or not path.is_file():
        flash(staff, "That upload is no longer available: upload the file again")
        db.commit()
        return see_other(UPLOAD_PATH)
    try:
        if mode == "sync":
            db.commit()  # see _preview: the sync needs the write lock on its own connection
            report: ImportReport = sync_csv(
                engine,
                path,
                agency=agency,
                now=clock.now(),
                source_name=file_name,
                max_leavers=share,
            )
        else:
            report = import_csv(
                db,
                path,
                now=clock.now(),
                consent_source=f"import of {file_name}",
                default_agency=agency or None,
            )
    except ImportFileError as exc:
        db.rollback()
        flash(staff, f"{file_name}: {exc}; nothing was changed")
        db.commit()
        return see_other(UPLOAD_PATH)
    if isinstance(report, SyncReport) and report.refused:
        db.rollback()
        flash(staff, f"Sync refused: {report.refused}")
        db.commit()
        return see_other(UPLOAD_PATH)
    path.unlink(missing_ok=True)
    if isinstance(report, SyncReport):
        summary = (
            f"{report.added} added, {report.updated} changed, {report.rejoined} back, "
            f"{report.leavers} left the agency, {report.rejected} rejected"
        )
        record(
            db,
            actor=staff.user,
            action="list.sync",
            object=f"agency:{agency}",
            detail=f"{file_name}: {summary}",
        )
        flash(staff, f"{agency} list synced from {file_name}: {summary}")
    else:
        summary = (
            f"{report.added} added, {report.updated} updated, {report.kept_out} kept out, "
            f"{report.rejected} rejected"
        )
        record(
            db,
            actor=staff.user,
            action="list.import",
            object=f"agency:{agency or 'any'}",
            detail=f"{file_name}: {summary}",
        )
        flash(staff, f"{file_name} imported: {summary}")
    db.commit()
    return see_other("/admin/subscribers")


@router.get("/lists/health", response_class=HTMLResponse)
def health(request: Request, db: SessionDep, clock: ClockDep) -> HTMLResponse:
    """Each agency's list: people by status now, active people month by month, growth."""
    return render(
        request,
        "staff/lists/health.html",
        health=list_health(db, now=clock.now()),
        statuses=[s.value for s in LIST_STATUSES],
    )
