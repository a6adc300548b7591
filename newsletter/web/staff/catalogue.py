"""The catalogue: find items, add and edit them (courses with format and booking date), retire
them, and see where each is used. Every change is a new plan revision, after the same checks
as ``plan check``. Nothing here deletes an item: reports count clicks by its id, so an item
leaves the catalogue only by being retired (kept for the months that used it)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from newsletter.activity import record
from newsletter.config import Settings
from newsletter.models import Agency, Bulletin, Link, User
from newsletter.plan import (
    CatalogueItem,
    ItemForm,
    ItemKind,
    Plan,
    PlanInvalid,
    StaleRevision,
    agency_slugs,
    current_revision,
    item_form,
    put_item,
    save_documents,
)
from newsletter.web.deps import SessionDep, SettingsDep
from newsletter.web.staff.auth import CurrentStaff, require, staff_router
from newsletter.web.staff.plan import diff_lines, load_state, month_name
from newsletter.web.staff.render import flash, render, see_other
from newsletter.web.staff.themes import field_id

router = staff_router()
Editor = Annotated[User, Depends(require("editor"))]

KINDS = [kind.value for kind in ItemKind]
FORMATS = ["eLearning", "Virtual classroom", "Face to face", "Webinar", "Conference"]
_FIELDS = (
    "id",
    "kind",
    "title",
    "summary",
    "url",
    "link_text",
    "points",
    "format",
    "booking_closes",
    "agencies",
    "retired",
)


def used_in(plan: Plan, item_id: str) -> list[str]:
    """Months of the plan whose theme uses the item."""
    return [
        month
        for month, theme in plan.themes.items()
        if any(use.item.id == item_id for use in theme.items())
    ]


def sent_with(db: Session, item_id: str) -> list[str]:
    """Months of bulletins built with a link to the item (sent or not)."""
    rows = db.exec(
        select(Bulletin.month)
        .join(Link, col(Link.bulletin_id) == col(Bulletin.id))
        .where(col(Link.catalogue_id) == item_id)
        .distinct()
        .order_by(col(Bulletin.month))
    ).all()
    return list(rows)


@router.get("/catalogue", response_class=HTMLResponse)
def catalogue(
    request: Request,
    staff: CurrentStaff,
    db: SessionDep,
    settings: SettingsDep,
    q: Annotated[str, Query(max_length=200)] = "",
    kind: Annotated[str, Query(max_length=20)] = "",
    show: Annotated[str, Query(max_length=20)] = "current",
) -> HTMLResponse:
    """Every catalogue item, searchable and filtered by kind, with where it is used."""
    state = load_state(db, settings)
    items: list[CatalogueItem] = []
    uses: dict[str, list[str]] = {}
    if state.plan is not None:
        words = q.lower().split()
        for item in state.plan.catalogue.values():
            if kind in KINDS and item.kind.value != kind:
                continue
            if show != "all" and item.retired:
                continue
            text = f"{item.id} {item.title} {item.summary}".lower()
            if all(word in text for word in words):
                items.append(item)
        items.sort(key=lambda item: (item.kind.value, item.title.lower()))
        for theme in state.plan.themes.values():
            for use in theme.items():
                uses.setdefault(use.item.id, []).append(theme.month)
    return render(
        request,
        "staff/catalogue/index.html",
        items=items,
        uses=uses,
        q=q,
        kind=kind,
        show=show,
        kinds=KINDS,
        state=state,
        can_edit=staff.has("editor"),
    )


def _item_page(
    request: Request,
    db: Session,
    settings: Settings,
    *,
    form: ItemForm,
    original: str | None,
    base: int | None,
    errors: dict[str, list[str]] | None = None,
    summary: list[tuple[str, str]] | None = None,
    stale: StaleRevision | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    state = load_state(db, settings)
    months = used_in(state.plan, original) if state.plan is not None and original else []
    return render(
        request,
        "staff/catalogue/item.html",
        status_code=status_code,
        form=form,
        original=original,
        base=base,
        errors=errors or {},
        summary=summary or [],
        kinds=KINDS,
        formats=FORMATS,
        agencies=list(db.exec(select(Agency).order_by(col(Agency.position))).all()),
        used_months=[(m, month_name(m)) for m in months],
        built_months=[(m, month_name(m)) for m in sent_with(db, original)] if original else [],
        stale=stale,
        stale_diff=diff_lines(stale.diff) if stale is not None else [],
    )


@router.get("/catalogue/new", response_class=HTMLResponse)
def new_item(
    request: Request,
    editor: Editor,
    db: SessionDep,
    settings: SettingsDep,
    kind: Annotated[str, Query(max_length=20)] = "course",
) -> HTMLResponse:
    """The form for a new catalogue item."""
    current = load_state(db, settings).revision
    return _item_page(
        request,
        db,
        settings,
        form=ItemForm(id="", kind=kind if kind in KINDS else "course"),
        original=None,
        base=current.number if current else None,
    )


@router.get("/catalogue/{item_id}", response_class=HTMLResponse)
def edit_item(
    request: Request, editor: Editor, db: SessionDep, settings: SettingsDep, item_id: str
) -> HTMLResponse:
    """The form for one catalogue item, and where it is used."""
    state = load_state(db, settings)
    if state.plan is None or item_id not in state.plan.catalogue:
        raise HTTPException(status_code=404, detail="No such catalogue item")
    form = item_form(asdict(state.plan.catalogue[item_id]))
    return _item_page(
        request,
        db,
        settings,
        form=form,
        original=item_id,
        base=state.revision.number if state.revision else None,
    )


def _form_from_post(data: dict[str, object], lists: dict[str, list[str]]) -> ItemForm:
    def text(name: str, limit: int = 5000) -> str:
        value = data.get(name)
        return value[:limit] if isinstance(value, str) else ""

    points = [line for line in text("points").replace("\r\n", "\n").split("\n") if line.strip()]
    return ItemForm(
        id=text("id", 100).strip(),
        kind=text("kind", 20),
        title=text("title", 300),
        summary=text("summary"),
        url=text("url", 2000).strip(),
        link_text=text("link_text", 300),
        points=points[:20],
        format=text("format", 100),
        booking_closes=text("booking_closes", 20),
        agencies=lists.get("agencies", [])[:20],
        retired=text("retired") == "yes",
    )


@router.post("/catalogue", response_model=None)
async def save_item(
    request: Request, staff: CurrentStaff, editor: Editor, db: SessionDep, settings: SettingsDep
) -> Response:
    """Add or change an item (or retire it, or bring it back) as a new plan revision."""
    data = await request.form()
    plain = {key: data.get(key) for key in data}
    lists = {"agencies": [v for v in data.getlist("agencies") if isinstance(v, str)]}
    form = _form_from_post(plain, lists)  # type: ignore[arg-type]
    original_value = data.get("original")
    original = original_value if isinstance(original_value, str) and original_value else None
    base_value = data.get("base")
    base = int(base_value) if isinstance(base_value, str) and base_value.isdigit() else None
    action = data.get("action")
    if action == "retire":
        form.retired = True
    elif action == "unretire":
        form.retired = False
    current = current_revision(db)
    state = load_state(db, settings)
    errors: dict[str, list[str]] = {}
    if original is None and state.plan is not None and form.id in state.plan.catalogue:
        errors["id"] = [
            f"the id {form.id!r} is already used; every catalogue item needs its own id"
        ]
    if original is not None and form.id != original:
        errors["id"] = ["an item's id cannot change: reports count its clicks by it"]
    if errors:
        summary = [("id", f"id: {errors['id'][0]}")]
        return _item_page(
            request,
            db,
            settings,
            form=form,
            original=original,
            base=base,
            errors=errors,
            summary=summary,
            status_code=400,
        )
    documents = put_item(current.documents if current else {}, form, original_id=original)
    try:
        saved = save_documents(
            db,
            documents,
            base=base,
            author=editor.email,
            message=_message(action, form, original),
            agencies=agency_slugs(settings),
        )
    except PlanInvalid as exc:
        db.rollback()
        by_field: dict[str, list[str]] = {}
        summary = []
        for error in exc.errors:
            target = _item_field(error.field) if error.file.startswith("catalogue/") else None
            if target is not None:
                by_field.setdefault(target, []).append(error.message)
                summary.append((target, f"{target.replace('-', '_')}: {error.message}"))
            else:
                summary.append(("main", str(error)))
        return _item_page(
            request,
            db,
            settings,
            form=form,
            original=original,
            base=base,
            errors=by_field,
            summary=summary,
            status_code=400,
        )
    except StaleRevision as exc:
        db.rollback()
        return _item_page(
            request,
            db,
            settings,
            form=form,
            original=original,
            base=base,
            stale=exc,
            status_code=409,
        )
    if saved.created:
        verb = {"retire": "retire", "unretire": "unretire"}.get(str(action), "save")
        record(
            db,
            actor=editor,
            action=f"catalogue.{verb}",
            object=f"catalogue:{form.id}",
            detail=f"revision {saved.revision.number}: {saved.revision.message}",
        )
        flash(staff, f"{saved.revision.message} (revision {saved.revision.number})")
    else:
        flash(staff, f"{form.id} had no changes: nothing was saved")
    db.commit()
    return see_other(f"/admin/catalogue/{form.id}")


def _item_field(path: str) -> str | None:
    """``items[3].booking_closes`` -> ``booking_closes`` (the form field it is about)."""
    parts = field_id(path).split("-")
    if len(parts) < 3 or parts[0] != "items":
        return None
    name = parts[2]
    return name if name in _FIELDS else None


def _message(action: object, form: ItemForm, original: str | None) -> str:
    if action == "retire":
        return f"Retired {form.id}"
    if action == "unretire":
        return f"Brought back {form.id}"
    return f"{'Changed' if original else 'Added'} {form.kind} {form.id}"
