"""The reports, for everyone signed in: served exactly as `newsletter report ... --format html`
writes them (or as CSV/JSON). The report HTML carries its own strict CSP (it needs nothing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from newsletter.reports.bulletin import build_bulletin_report
from newsletter.reports.formats import bulletin_text, training_text
from newsletter.reports.html import bulletin_html, training_html
from newsletter.reports.training import DEFAULT_KINDS, ReportError, build_training_report
from newsletter.web.deps import SessionDep, SettingsDep
from newsletter.web.staff.auth import StaffUser, staff_router

router = staff_router()

# Reports need nothing from anywhere: say so to the browser too.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
    "frame-ancestors 'self'"
)


def _report_response(text: str, fmt: str) -> Response:
    if fmt == "csv":
        return PlainTextResponse(text, media_type="text/csv; charset=utf-8")
    if fmt == "json":
        return Response(text, media_type="application/json")
    return HTMLResponse(
        text, headers={"Content-Security-Policy": REPORT_CSP, "Cache-Control": "no-store"}
    )


@router.get("/reports/training", response_model=None)
def training_report(
    request: Request,
    user: StaffUser,
    db: SessionDep,
    settings: SettingsDep,
    # An empty field of the dashboard's form means "no limit".
    month_from: Annotated[str | None, Query(alias="from", pattern=r"^(\d{4}-\d{2})?$")] = None,
    month_to: Annotated[str | None, Query(alias="to", pattern=r"^(\d{4}-\d{2})?$")] = None,
    agency: str | None = None,
    course: str | None = None,
    kinds: str = ",".join(DEFAULT_KINDS),
    format: Annotated[str, Query(pattern="^(html|csv|json)$")] = "html",
) -> Response:
    """The training report (same as `newsletter report training`)."""
    try:
        report = build_training_report(
            db,
            month_from=month_from or None,
            month_to=month_to or None,
            agency=agency or None,
            course=course or None,
            kinds=[k.strip() for k in kinds.split(",") if k.strip()],
        )
    except ReportError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    if format == "html":
        return _report_response(training_html(report, settings=settings), format)
    text = training_text(report, fmt=format, min_count=settings.report_min_count)  # type: ignore[arg-type]
    return _report_response(text, format)


@router.get("/reports/bulletin/{month}", response_model=None)
def bulletin_report(
    request: Request,
    user: StaffUser,
    db: SessionDep,
    settings: SettingsDep,
    month: str,
    format: Annotated[str, Query(pattern="^(html|csv|json)$")] = "html",
) -> Response:
    """One bulletin's report (same as `newsletter report bulletin MONTH`)."""
    try:
        report = build_bulletin_report(db, month=month)
    except ReportError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    if format == "html":
        return _report_response(bulletin_html(report, settings=settings), format)
    text = bulletin_text(report, fmt=format, min_count=settings.report_min_count)  # type: ignore[arg-type]
    return _report_response(text, format)
