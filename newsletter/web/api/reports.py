"""``/api/v1/reports/training``: the training report as JSON (as ``report training --format json``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from newsletter.models import ApiToken, Scope
from newsletter.reports import DEFAULT_KINDS, ReportError, build_training_report, training_text
from newsletter.web.api.auth import scoped
from newsletter.web.api.errors import ApiError
from newsletter.web.deps import SessionDep, SettingsDep

router = APIRouter(prefix="/reports", tags=["reports"])

Month = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-07"])]


@router.get(
    "/training",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "The report."},
        400: {"description": "The filters make no report (an unknown kind, say)."},
    },
)
def training_report(
    token: Annotated[ApiToken, Depends(scoped(Scope.reports_read))],
    db: SessionDep,
    settings: SettingsDep,
    month_from: Annotated[Month, Query(alias="from")] = None,
    month_to: Annotated[Month, Query(alias="to")] = None,
    agency: Annotated[str | None, Query(max_length=40)] = None,
    course: Annotated[str | None, Query(max_length=100)] = None,
    kinds: Annotated[str, Query(max_length=200)] = ",".join(DEFAULT_KINDS),
) -> Response:
    """Training-link engagement by course, agency and month; small counts hidden as ``<5``."""
    try:
        report = build_training_report(
            db,
            month_from=month_from,
            month_to=month_to,
            agency=agency,
            course=course,
            kinds=[k.strip() for k in kinds.split(",") if k.strip()],
        )
    except ReportError as exc:
        raise ApiError(400, str(exc)) from exc
    text = training_text(report, fmt="json", min_count=settings.report_min_count)
    return Response(text, media_type="application/json", headers={"Cache-Control": "no-store"})
