"""API tokens in the browser, for admins: list, create (the secret shown once), revoke.

The same rules as ``newsletter tokens ...`` (:mod:`newsletter.apitokens`); every change is
written to the activity log.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from newsletter.activity import record
from newsletter.apitokens import TokenError, create_token, list_tokens, revoke_token
from newsletter.models import ApiToken, Scope
from newsletter.web.deps import ClockDep, SessionDep
from newsletter.web.staff.auth import CurrentStaff, require, staff_router
from newsletter.web.staff.render import flash, render, see_other

router = staff_router(dependencies=[Depends(require("admin"))])

SCOPE_HINTS = {
    Scope.subscribers_read: "look a subscriber up (everything held about them)",
    Scope.subscribers_write: "add people (by confirmation email), unsubscribe, erase",
    Scope.subscribers_skip_confirmation: "add people at once, without the confirmation email",
    Scope.reports_read: "read the training report",
}


def _index(
    request: Request,
    db: SessionDep,
    *,
    values: dict[str, object],
    errors: dict[str, str],
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "staff/tokens/index.html",
        status_code=status_code,
        tokens=list_tokens(db),
        scopes=list(Scope),
        hints=SCOPE_HINTS,
        values=values,
        errors=errors,
    )


@router.get("/tokens", response_class=HTMLResponse)
def tokens(request: Request, db: SessionDep) -> HTMLResponse:
    """Every API token, and a form to create one."""
    return _index(request, db, values={"name": "", "scopes": []}, errors={})


@router.post("/tokens", response_class=HTMLResponse)
def create(
    request: Request,
    db: SessionDep,
    staff: CurrentStaff,
    clock: ClockDep,
    name: Annotated[str, Form(max_length=100)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
) -> HTMLResponse:
    """Create a token and show its secret, once."""
    chosen = scopes or []
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "Enter a name saying who uses the token, like HR feed"
    if not chosen:
        errors[f"scope-{Scope.subscribers_read.value}"] = "Choose at least one permission"
    new = None
    if not errors:
        try:
            new = create_token(db, name, chosen, by=staff.user.email, now=clock.now())
        except TokenError as exc:
            errors["name"] = str(exc)
    if errors or new is None:
        db.rollback()
        return _index(
            request, db, values={"name": name, "scopes": chosen}, errors=errors, status_code=400
        )
    record(
        db,
        actor=staff.user,
        action="token.create",
        object=f"token:{new.token.name}",
        detail=f"scopes {', '.join(new.token.scopes)}",
    )
    db.commit()
    # Shown in this response only (never stored readable): no redirect, no flash.
    return render(request, "staff/tokens/created.html", token=new.token, secret=new.secret)


@router.post("/tokens/{token_id}/revoke")
def revoke(token_id: int, db: SessionDep, staff: CurrentStaff, clock: ClockDep) -> Response:
    """Revoke a token: it stops working at once."""
    token = db.exec(select(ApiToken).where(col(ApiToken.id) == token_id)).first()
    if token is None:
        raise HTTPException(status_code=404, detail="No such token")
    try:
        revoke_token(db, token.name, by=staff.user.email, now=clock.now())
    except TokenError as exc:
        flash(staff, str(exc))
        db.commit()
        return see_other("/admin/tokens")
    record(db, actor=staff.user, action="token.revoke", object=f"token:{token.name}")
    flash(staff, f"The token {token.name} is revoked: it no longer works")
    db.commit()
    return see_other("/admin/tokens")
