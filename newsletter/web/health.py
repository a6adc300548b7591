"""GET /healthz: the process answers and the database is reachable."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from newsletter.web.deps import EngineDep

router = APIRouter()


@router.get("/healthz")
def healthz(engine: EngineDep) -> JSONResponse:
    """Liveness and database reachability."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # the check itself must answer, whatever the failure
        return JSONResponse({"status": "error", "database": str(exc.__class__.__name__)}, 503)
    return JSONResponse({"status": "ok", "database": "ok"})
