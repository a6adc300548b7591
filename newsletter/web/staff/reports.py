"""The reports, for everyone signed in: served exactly as `newsletter report ... --format F`
writes them (HTML, PDF, CSV, JSON or the terminal table). The report HTML carries its own
strict CSP (it needs nothing from anywhere)."""

from __future__ import annotations

from typing import Annotated

from fastapi import HTTPException, Query
from fastapi.responses import Response

from newsletter.reports import (
    DEFAULT_KINDS,
    Output,
    PdfUnavailable,
    ReportError,
    bulletin_output,
    training_output,
)
from newsletter.web.deps import SessionDep, SettingsDep
from newsletter.web.staff.auth import StaffUser, staff_router

router = staff_router()

# Reports need nothing from anywhere: say so to the browser too. The staff app may frame them.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
    "frame-ancestors 'self'"
)
FORMAT_PATTERN = "^(html|pdf|csv|json|table)$"


def _report_response(output: Output) -> Response:
    headers = {"Cache-Control": "no-store"}
    if output.fmt == "html":
        headers["Content-Security-Policy"] = REPORT_CSP
    else:
        kind = "inline" if output.fmt == "pdf" else "attachment"
        headers["Content-Disposition"] = f'{kind}; filename="{output.filename}"'
    return Response(output.content, media_type=output.media_type, headers=headers)


@router.get("/reports/training", response_model=None)
def training_report(
    user: StaffUser,
    db: SessionDep,
    settings: SettingsDep,
    # An empty field of the dashboard's form means "no limit".
    month_from: Annotated[str | None, Query(alias="from", pattern=r"^(\d{4}-\d{2})?$")] = None,
    month_to: Annotated[str | None, Query(alias="to", pattern=r"^(\d{4}-\d{2})?$")] = None,
    agency: str | None = None,
    course: str | None = None,
    kinds: str = ",".join(DEFAULT_KINDS),
    format: Annotated[str, Query(pattern=FORMAT_PATTERN)] = "html",
) -> Response:
    """The training report (same as `newsletter report training`)."""
    try:
        output = training_output(
            db,
            settings,
            fmt=format,  # type: ignore[arg-type]
            month_from=month_from or None,
            month_to=month_to or None,
            agency=agency or None,
            course=course or None,
            kinds=[k.strip() for k in kinds.split(",") if k.strip()],
        )
    except ReportError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    except PdfUnavailable as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc
    return _report_response(output)


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
    return _report_response(output)
