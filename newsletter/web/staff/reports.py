"""The reports, for everyone signed in (GET /admin/reports): the board's training report with
filters (period, agency, course, kinds) in the staff layout, the bulletins' reports, and
downloads in every format. The numbers come from the same function as `newsletter report`
(``reports.output`` and ``reports.html.board_context``), so the page, the downloads and the
CLI agree.

The charts are served as SVG images (``/admin/reports/training/chart/NAME.svg``): the staff
pages' CSP refuses inline styles, which matplotlib's SVG uses. The downloads (and the single
HTML page) are served as `newsletter report ... --format F` writes them, with their own strict
CSP (they need nothing from anywhere).
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from newsletter.models import Bulletin, Link, LinkKind
from newsletter.reports import (
    ALL_KINDS,
    CHARTS,
    DEFAULT_KINDS,
    BoardReport,
    Output,
    PdfUnavailable,
    ReportError,
    agency_names,
    board_chart,
    board_context,
    build_board_report,
    bulletin_output,
    training_output,
)
from newsletter.web.deps import SessionDep, SettingsDep
from newsletter.web.staff.auth import StaffUser, staff_router
from newsletter.web.staff.render import render

router = staff_router()

# The downloads need nothing from anywhere: say so to the browser too.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
    "frame-ancestors 'self'"
)
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
FORMATS = [
    ("pdf", "PDF (A4, for board papers)"),
    ("html", "One HTML page (with charts)"),
    ("csv", "CSV (every raw column)"),
    ("json", "JSON (every raw column and the headline)"),
    ("table", "Text table (100 columns)"),
]
FORMAT_PATTERN = "^(html|pdf|csv|json|table)$"
KINDS_PATTERN = r"^[a-z]+(,[a-z]+)*$"


def _serve(output: Output) -> Response:
    headers = {"Cache-Control": "no-store"}
    if output.fmt == "html":
        headers["Content-Security-Policy"] = REPORT_CSP
    else:
        kind = "inline" if output.fmt == "pdf" else "attachment"
        headers["Content-Disposition"] = f'{kind}; filename="{output.filename}"'
    return Response(output.content, media_type=output.media_type, headers=headers)


def _courses(db: Session) -> list[tuple[str, str]]:
    """Every course the bulletins linked to: (catalogue id, title), by title."""
    rows = db.exec(
        select(Link.catalogue_id, Link.title)
        .where(col(Link.kind) == LinkKind.course.value, col(Link.catalogue_id).is_not(None))
        .distinct()
    ).all()
    titles: dict[str, str] = {}
    for catalogue_id, title in rows:
        if catalogue_id:
            titles.setdefault(catalogue_id, title or catalogue_id)
    return sorted(titles.items(), key=lambda kv: kv[1].lower())


def _filters(
    *, month_from: str, month_to: str, agency: str, course: str, kinds: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The filters as given (for the form) and an error message per field."""
    errors: dict[str, str] = {}
    for field, value, label in (("from", month_from, "From"), ("to", month_to, "To")):
        if value and not MONTH.match(value):
            errors[field] = f"{label} must be a month written as YYYY-MM, for example 2026-07"
    both = "from" not in errors and "to" not in errors and month_from and month_to
    if both and month_from > month_to:
        errors["to"] = "To must be the same month as From or later"
    unknown = [k for k in kinds if k not in ALL_KINDS]
    if unknown or not kinds:
        errors["kind"] = "Choose at least one kind of link"
    values = {
        "from": month_from,
        "to": month_to,
        "agency": agency,
        "course": course,
        "kind": [k for k in kinds if k in ALL_KINDS],
    }
    return values, errors


@router.get("/reports", response_class=HTMLResponse)
def reports_page(
    request: Request,
    user: StaffUser,
    db: SessionDep,
    settings: SettingsDep,
    month_from: Annotated[str, Query(alias="from", max_length=20)] = "",
    month_to: Annotated[str, Query(alias="to", max_length=20)] = "",
    agency: Annotated[str, Query(max_length=60)] = "",
    course: Annotated[str, Query(max_length=300)] = "",
    kind: Annotated[list[str] | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    """The training report with its filters, the bulletins' reports and the downloads."""
    kinds = kind if kind else list(DEFAULT_KINDS)
    values, errors = _filters(
        month_from=month_from.strip(),
        month_to=month_to.strip(),
        agency=agency,
        course=course,
        kinds=kinds,
    )
    agencies = agency_names(db)
    courses = _courses(db)
    if agency and agency not in agencies:
        errors["agency"] = "Choose an agency from the list"
    board: BoardReport | None = None
    if not errors:
        try:
            board = build_board_report(
                db,
                month_from=values["from"] or None,
                month_to=values["to"] or None,
                agency=agency or None,
                course=course or None,
                kinds=values["kind"],
            )
        except ReportError as exc:
            errors["agency"] = str(exc)
    query = {
        k: v
        for k, v in {
            "from": values["from"],
            "to": values["to"],
            "agency": agency,
            "course": course,
            "kinds": ",".join(values["kind"]),
        }.items()
        if v
    }
    report = board_context(board, settings=settings, draw=False) if board is not None else None
    bulletins = db.exec(select(Bulletin).order_by(col(Bulletin.month).desc())).all()
    return render(
        request,
        "staff/reports/index.html",
        status_code=400 if errors else 200,
        values=values,
        errors=errors,
        agencies=agencies,
        courses=courses,
        kinds=ALL_KINDS,
        report=report,
        charts={
            name: f"/admin/reports/training/chart/{name}.svg?{urlencode(query)}" for name in CHARTS
        },
        downloads=[
            (label, f"/admin/reports/training?{urlencode({**query, 'format': fmt})}")
            for fmt, label in FORMATS
        ],
        bulletins=[b for b in bulletins if b.status in {"sent", "sending"}],
    )


@router.get("/reports/training", response_model=None)
def training_report(
    user: StaffUser,
    db: SessionDep,
    settings: SettingsDep,
    # An empty field of a form means "no limit".
    month_from: Annotated[str | None, Query(alias="from", pattern=r"^(\d{4}-\d{2})?$")] = None,
    month_to: Annotated[str | None, Query(alias="to", pattern=r"^(\d{4}-\d{2})?$")] = None,
    agency: str | None = None,
    course: str | None = None,
    kinds: Annotated[str, Query(pattern=KINDS_PATTERN)] = ",".join(DEFAULT_KINDS),
    format: Annotated[str, Query(pattern=FORMAT_PATTERN)] = "html",
) -> Response:
    """The training report in one format (same as `newsletter report training`)."""
    try:
        output = training_output(
            db,
            settings,
            fmt=format,  # type: ignore[arg-type]
            month_from=month_from or None,
            month_to=month_to or None,
            agency=agency or None,
            course=course or None,
            kinds=kinds.split(","),
        )
    except ReportError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    except PdfUnavailable as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc
    return _serve(output)


@router.get("/reports/training/chart/{name}.svg", response_model=None)
def training_chart(
    user: StaffUser,
    db: SessionDep,
    settings: SettingsDep,
    name: str,
    month_from: Annotated[str | None, Query(alias="from", pattern=r"^(\d{4}-\d{2})?$")] = None,
    month_to: Annotated[str | None, Query(alias="to", pattern=r"^(\d{4}-\d{2})?$")] = None,
    agency: str | None = None,
    course: str | None = None,
    kinds: Annotated[str, Query(pattern=KINDS_PATTERN)] = ",".join(DEFAULT_KINDS),
) -> Response:
    """One chart of the training report as an SVG image."""
    if name not in CHARTS:
        raise HTTPException(status_code=404, detail="no such chart")
    try:
        board = build_board_report(
            db,
            month_from=month_from or None,
            month_to=month_to or None,
            agency=agency or None,
            course=course or None,
            kinds=kinds.split(","),
        )
    except ReportError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    svg = board_chart(board, name, min_count=settings.report_min_count)
    if svg is None:
        raise HTTPException(status_code=404, detail="nothing to draw")
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={"Cache-Control": "no-store", "Content-Security-Policy": REPORT_CSP},
    )


@router.get("/reports/bulletin/{month}", response_model=None)
def bulletin_report(
    user: StaffUser,
    db: SessionDep,
    settings: SettingsDep,
    month: str,
    format: Annotated[str, Query(pattern=FORMAT_PATTERN)] = "html",
) -> Response:
    """One bulletin's report (same as `newsletter report bulletin MONTH`)."""
    try:
        output = bulletin_output(db, settings, month=month, fmt=format)  # type: ignore[arg-type]
    except ReportError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except PdfUnavailable as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc
    return _serve(output)
