"""The month editor: a theme's title, subject, preheader, audience, intro, sections and items,
its send-time override, an agency's preview, and saving it as a new plan revision.

Works without JavaScript: every change to the form's shape (add, remove or move a section or
an item, search the catalogue, update the previews) is a submit button that sends the whole form
back and gets it again, changed, with nothing saved. (With JavaScript, ``markdown-preview.js``
also shows each Markdown field as readers will see it while the editor types, from
``POST /admin/plan/markdown-preview``.) Only "Save" writes: the month becomes a new
``themes/YYYY-MM.yaml`` in a new revision, after the same checks as ``plan check``; their
messages are shown beside the fields they are about and in the summary at the top.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select
from starlette.datastructures import FormData

from newsletter.activity import record
from newsletter.assemble import preview_variant, render_prose
from newsletter.config import Settings
from newsletter.models import Agency, User
from newsletter.plan import (
    AUDIENCES,
    EDITION_MAX,
    KEY_MAX,
    MARKDOWN_MAX,
    MONTH_RE,
    Plan,
    PlanError,
    PlanInvalid,
    SectionForm,
    StaleRevision,
    ThemeForm,
    UseForm,
    agency_slugs,
    calendar_month,
    check_documents,
    current_revision,
    edition_problem,
    form_from_theme,
    is_extra,
    is_key,
    make_key,
    markdown_problems,
    parse_key,
    save_documents,
    sent_months,
    theme_document,
    theme_path,
)
from newsletter.web.deps import SessionDep, SettingsDep
from newsletter.web.pages import render_template
from newsletter.web.staff.auth import CurrentStaff, require, staff_router
from newsletter.web.staff.plan import add_months, diff_lines, load_state, month_name
from newsletter.web.staff.render import STAFF_CSP, flash, render, see_other

router = staff_router()
Editor = Annotated[User, Depends(require("editor"))]

# Lengths an inbox shows before cutting off (desktop clients; phones show about 35-40).
SUBJECT_SHOWN = 60
PREHEADER_SHOWN = 90
SEARCH_RESULTS = 20
# A live preview's request: the Markdown, form-encoded (a character can take 12 bytes: %XX x 4).
PREVIEW_BODY_MAX = 12 * MARKDOWN_MAX + 1_000
PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)


# --- the form <-> ThemeForm --------------------------------------------------------------------


_SECTION_KEY = re.compile(r"^sections-(\d+)-title$")
_ITEM_KEY = re.compile(r"^sections-(\d+)-items-(\d+)-ref$")
MAX_SECTIONS = 30
MAX_ITEMS = 60


def form_from_post(month: str, data: FormData) -> ThemeForm:
    """The ThemeForm a submitted editor form describes (indexes as the page numbered them)."""

    def text(name: str, limit: int = 20_000) -> str:
        value = data.get(name)
        return value[:limit] if isinstance(value, str) else ""

    def texts(name: str) -> list[str]:
        return [v for v in data.getlist(name) if isinstance(v, str)]

    section_indexes = sorted({int(m.group(1)) for key in data if (m := _SECTION_KEY.match(key))})[
        :MAX_SECTIONS
    ]
    sections = []
    for s in section_indexes:
        item_indexes = sorted(
            {
                int(m.group(2))
                for key in data
                if (m := _ITEM_KEY.match(key)) and int(m.group(1)) == s
            }
        )[:MAX_ITEMS]
        items = [
            UseForm(
                ref=text(f"sections-{s}-items-{i}-ref", 100),
                note=text(f"sections-{s}-items-{i}-note"),
                agencies=texts(f"sections-{s}-items-{i}-agencies"),
            )
            for i in item_indexes
        ]
        sections.append(
            SectionForm(
                title=text(f"sections-{s}-title", 300),
                intro=text(f"sections-{s}-intro"),
                feedback=text(f"sections-{s}-feedback") == "yes",
                items=items,
            )
        )
    return ThemeForm(
        month=month,
        title=text("title", 300),
        subject=text("subject", 300),
        preheader=text("preheader", 300),
        audience=[a for a in texts("audience") if a in AUDIENCES],
        intro=text("intro"),
        send_date=text("send_date", 20),
        send_time=text("send_time", 20),
        sections=sections,
    )


def apply_action(form: ThemeForm, action: str, data: FormData) -> str | None:
    """Change the form's shape as the pressed button asks; a note for the page, if any."""
    kind, _, rest = action.partition(":")
    parts = [int(p) for p in rest.split(":") if p.isdigit()]
    sections = form.sections
    if kind == "add-section":
        sections.append(SectionForm())
        return "Section added: give it a title and items"
    if kind in {"remove-section", "up-section", "down-section"} and parts:
        s = parts[0]
        if 0 <= s < len(sections):
            if kind == "remove-section":
                del sections[s]
            elif kind == "up-section" and s > 0:
                sections[s - 1], sections[s] = sections[s], sections[s - 1]
            elif kind == "down-section" and s < len(sections) - 1:
                sections[s + 1], sections[s] = sections[s], sections[s + 1]
        return None
    if kind in {"remove-item", "up-item", "down-item"} and len(parts) == 2:
        s, i = parts
        if 0 <= s < len(sections) and 0 <= i < len(items := sections[s].items):
            if kind == "remove-item":
                del items[i]
            elif kind == "up-item" and i > 0:
                items[i - 1], items[i] = items[i], items[i - 1]
            elif kind == "down-item" and i < len(items) - 1:
                items[i + 1], items[i] = items[i], items[i + 1]
        return None
    if kind == "add-item":
        ref = rest
        target = data.get("add_to")
        s = int(target) if isinstance(target, str) and target.isdigit() else 0
        if not sections:
            sections.append(SectionForm())
        s = min(s, len(sections) - 1)
        sections[s].items.append(UseForm(ref=ref))
        return f"{ref} added to section {s + 1}"
    return None


# --- errors beside their fields ---------------------------------------------------------------


def field_id(path: str) -> str:
    """``sections[0].items[1].ref`` -> ``sections-0-items-1-ref`` (the form field's id)."""
    return re.sub(r"[\[\].]+", "-", path).strip("-")


def _known_ids(form: ThemeForm) -> set[str]:
    ids = {
        "title",
        "subject",
        "preheader",
        "audience",
        "intro",
        "send-date",
        "send-time",
        "send",
        "month",
        "sections",
    }
    for s, section in enumerate(form.sections):
        ids |= {
            f"sections-{s}",
            f"sections-{s}-title",
            f"sections-{s}-intro",
            f"sections-{s}-items",
        }
        for i, _use in enumerate(section.items):
            base = f"sections-{s}-items-{i}"
            ids |= {base, f"{base}-ref", f"{base}-note", f"{base}-agencies"}
    return ids


def field_errors(
    errors: list[PlanError], form: ThemeForm
) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """Errors by form field id (the nearest field that exists), and the summary's
    (anchor, text) pairs in the words of ``plan check``."""
    ids = _known_ids(form)
    own = theme_path(form.month)
    by_field: dict[str, list[str]] = {}
    summary: list[tuple[str, str]] = []
    for error in errors:
        if error.file != own:
            summary.append(("main", str(error)))
            continue
        target = field_id(error.field)
        while target and target not in ids:
            target = target.rsplit("-", 1)[0] if "-" in target else ""
        target = target or "title"
        target = {"send": "send-date", "sections": "sections-0-title"}.get(target, target)
        if target == "sections-0-title" and not form.sections:
            target = "add-section"
        by_field.setdefault(target, []).append(error.message)
        label = error.field or "month"
        summary.append((target, f"{label}: {error.message}"))
    return by_field, summary


# --- page context -----------------------------------------------------------------------------


@dataclass
class EditorPage:
    form: ThemeForm
    base: int | None
    message: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)
    summary: list[tuple[str, str]] = field(default_factory=list)
    note: str | None = None
    query: str = ""
    results: list[Any] = field(default_factory=list)
    searched: bool = False
    stale: StaleRevision | None = None
    is_new: bool = False


def _agencies(db: Session) -> list[Agency]:
    return list(db.exec(select(Agency).order_by(col(Agency.position), col(Agency.slug))).all())


def _search(plan: Plan | None, query: str) -> list[Any]:
    if plan is None:
        return []
    words = query.lower().split()
    found = []
    for item in plan.catalogue.values():
        if item.retired:
            continue
        haystack = f"{item.id} {item.title} {item.summary} {item.kind}".lower()
        if all(word in haystack for word in words):
            found.append(item)
    found.sort(key=lambda item: (item.kind.value, item.title.lower()))
    return found[:SEARCH_RESULTS]


def _prose_html(source: str) -> str:
    if not source.strip():
        return ""
    # The same Markdown rendering (and sanitising) as the bulletin; links are shown as written.
    return render_prose(source, lambda url, text: url).html


def _render_editor(
    request: Request, db: Session, settings: Settings, page: EditorPage, *, status_code: int = 200
) -> HTMLResponse:
    state = load_state(db, settings)
    catalogue = state.plan.catalogue if state.plan is not None else {}
    intro_html = _prose_html(page.form.intro)
    return render(
        request,
        "staff/plan/month.html",
        status_code=status_code,
        page=page,
        form=page.form,
        month_label=month_name(page.form.month),
        extra=is_extra(page.form.month),
        extra_month_label=month_name(calendar_month(page.form.month)),
        catalogue=catalogue,
        agencies=_agencies(db),
        audiences=AUDIENCES,
        audience_labels={"children": "Children's workforce", "adults": "Adults' workforce"},
        intro_html=intro_html,
        subject_shown=SUBJECT_SHOWN,
        preheader_shown=PREHEADER_SHOWN,
        from_name=settings.from_address.split("<")[0].strip() or settings.from_address,
        stale_diff=diff_lines(page.stale.diff) if page.stale is not None else [],
    )


def _require_month(month: str) -> str:
    """A month (YYYY-MM) or an extra edition of one (YYYY-MM-name); 404 for anything else."""
    if not is_key(month):
        raise HTTPException(status_code=404, detail="No such month")
    return month


def _frozen_or_404(db: Session, month: str) -> None:
    if month in sent_months(db):
        raise HTTPException(
            status_code=409, detail=f"{month_name(month)} was sent: its theme is kept as sent"
        )


# --- routes -----------------------------------------------------------------------------------


@router.get("/plan/months/new", response_class=HTMLResponse)
def new_month(
    request: Request,
    editor: Editor,
    db: SessionDep,
    settings: SettingsDep,
    month: Annotated[str, Query(max_length=KEY_MAX)] = "",
    start: Annotated[str | None, Query(max_length=KEY_MAX)] = None,
    title: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    """Start a month (or an extra edition of one, ``month=YYYY-MM-name``): from another
    month's theme (``start=YYYY-MM``) or blank."""
    state = load_state(db, settings)
    plan = state.plan
    if not is_key(month) or start is None:
        last = max(calendar_month(k) for k in plan.themes) if plan and plan.themes else None
        suggested = month if MONTH_RE.match(month) else (add_months(last, 1) if last else "")
        return render(
            request,
            "staff/plan/new_month.html",
            months=sorted(plan.themes) if plan is not None else [],
            suggested=suggested,
            previous=add_months(suggested, -1) if suggested else "",
            error="Enter the month as YYYY-MM, for example 2027-01"
            if month and not is_key(month)
            else None,
            value=month,
        )
    if plan is not None and month in plan.themes:
        return see_other(f"/admin/plan/months/{month}")
    source = plan.themes.get(start) if plan is not None and start else None
    key = parse_key(month)
    if source is not None:
        form = form_from_theme(source, month=month)
        note = f"Copied from {month_name(start)}: change what this {_noun(month)} needs, then save."
    else:
        form = ThemeForm(
            month=month, audience=["children"], sections=[SectionForm(title="Training")]
        )
        note = None
    if key.is_extra:
        form.title = title.strip() or form.title
        note = (note + " " if note else "") + (
            f"An extra edition of {month_name(key.month)} goes out on a day of its own: "
            "give it a send date in that month."
        )
    page = EditorPage(
        form=form,
        base=state.revision.number if state.revision else None,
        note=note,
        is_new=True,
        message=f"Plan {month_name(month)}"
        + (f" (from {month_name(start)})" if source is not None else ""),
    )
    return _render_editor(request, db, settings, page)


def _noun(key: str) -> str:
    return "extra edition" if is_extra(key) else "month"


@router.get("/plan/months/{month}/extra", response_class=HTMLResponse)
def new_extra(
    request: Request,
    editor: Editor,
    db: SessionDep,
    settings: SettingsDep,
    month: str,
    edition: Annotated[str | None, Query(max_length=200)] = None,
    title: Annotated[str, Query(max_length=300)] = "",
    start: Annotated[str, Query(max_length=KEY_MAX)] = "",
) -> Response:
    """Add an extra edition to ``month``: its short name and title, blank or from the month's
    theme; then the editor, as for a new month (nothing is saved before "Save")."""
    if not MONTH_RE.match(month):
        raise HTTPException(status_code=404, detail="No such month")
    state = load_state(db, settings)
    plan = state.plan
    errors: dict[str, str] = {}
    if edition is not None:
        slug = edition.strip()
        problem = edition_problem(slug)
        if problem is not None:
            errors["edition"] = f"The short name {problem}"
        elif plan is not None and make_key(month, slug) in plan.themes:
            errors["edition"] = (
                f"{month_name(month)} already has an extra edition named {slug}; "
                "choose another name, or edit that one from the calendar"
            )
        elif make_key(month, slug) in sent_months(db):
            errors["edition"] = f"{make_key(month, slug)} was sent already; choose another name"
        if not title.strip():
            errors["title"] = "Enter the edition's title, for example Correction: the Safer7 link"
        if not errors:
            key = make_key(month, slug)
            source = month if start == month and plan is not None and month in plan.themes else ""
            return new_month(request, editor, db, settings, month=key, start=source, title=title)
    return render(
        request,
        "staff/plan/new_extra.html",
        status_code=400 if errors else 200,
        month=month,
        month_label=month_name(month),
        has_theme=plan is not None and month in plan.themes,
        extras=[
            k
            for k in (plan.themes if plan is not None else {})
            if is_extra(k) and calendar_month(k) == month
        ],
        errors=errors,
        edition=edition or "",
        title=title,
        start=start if edition is not None else month,
        edition_max=EDITION_MAX,
    )


@router.get("/plan/months/{month}", response_class=HTMLResponse)
def edit_month(
    request: Request, editor: Editor, db: SessionDep, settings: SettingsDep, month: str
) -> Response:
    """The editor for one month of the current plan."""
    _require_month(month)
    state = load_state(db, settings)
    if state.plan is None or month not in state.plan.themes:
        return see_other(f"/admin/plan/months/new?month={month}")
    sent = month in sent_months(db)
    page = EditorPage(
        form=form_from_theme(state.plan.themes[month], month=month),
        base=state.revision.number if state.revision else None,
        note=f"{month_name(month)} was sent: its theme is kept as it was sent and cannot change."
        if sent
        else None,
    )
    return _render_editor(request, db, settings, page)


@router.post("/plan/months/{month}", response_model=None)
async def post_month(
    request: Request,
    staff: CurrentStaff,
    editor: Editor,
    db: SessionDep,
    settings: SettingsDep,
    month: str,
) -> Response:
    """Change the form (any button but Save) or save the month as a new revision."""
    _require_month(month)
    data = await request.form()
    form = form_from_post(month, data)
    action = data.get("action")
    action = action if isinstance(action, str) else "save"
    base_value = data.get("base")
    base = int(base_value) if isinstance(base_value, str) and base_value.isdigit() else None
    message = data.get("message")
    page = EditorPage(
        form=form,
        base=base,
        message=message[:1000] if isinstance(message, str) else "",
        is_new=data.get("is_new") == "yes",
    )
    if action != "save":
        query = data.get("q")
        page.query = query[:200] if isinstance(query, str) else ""
        if action == "search":
            page.searched = True
            page.results = _search(load_state(db, settings).plan, page.query)
        else:
            page.note = apply_action(form, action, data)
            if page.query:
                page.searched = True
                page.results = _search(load_state(db, settings).plan, page.query)
        return _render_editor(request, db, settings, page)
    _frozen_or_404(db, month)
    current = current_revision(db)
    documents = dict(current.documents) if current is not None else {}
    documents[theme_path(month)] = theme_document(form)
    try:
        saved = save_documents(
            db,
            documents,
            base=base,
            author=editor.email,
            message=page.message or f"{month_name(month)} saved",
            agencies=agency_slugs(settings),
        )
    except PlanInvalid as exc:
        db.rollback()
        page.errors, page.summary = field_errors(exc.errors, form)
        return _render_editor(request, db, settings, page, status_code=400)
    except StaleRevision as exc:
        db.rollback()
        page.stale = exc
        return _render_editor(request, db, settings, page, status_code=409)
    if saved.created:
        record(
            db,
            actor=editor,
            action="plan.save",
            object=f"plan:{month}",
            detail=f"revision {saved.revision.number}: {saved.revision.message}",
        )
        flash(staff, f"{month_name(month)} saved as revision {saved.revision.number}")
    else:
        flash(staff, f"{month_name(month)} had no changes: nothing was saved")
    db.commit()
    return see_other(f"/admin/plan/months/{month}")


@router.post("/plan/months/{month}/preview", response_model=None)
async def preview_month(
    request: Request, editor: Editor, db: SessionDep, settings: SettingsDep, month: str
) -> Response:
    """The edited month as one agency's subscribers would get it, before saving."""
    _require_month(month)
    data = await request.form()
    form = form_from_post(month, data)
    agencies = _agencies(db)
    wanted = data.get("preview_agency")
    agency = next((a for a in agencies if a.slug == wanted), agencies[0] if agencies else None)
    if agency is None:
        raise HTTPException(status_code=409, detail="There are no agencies to preview for")
    current = current_revision(db)
    documents = dict(current.documents) if current is not None else {}
    documents[theme_path(month)] = theme_document(form)
    result = check_documents(documents, agencies=agency_slugs(settings), frozen=sent_months(db))
    if result.plan is None or result.errors:
        page = EditorPage(form=form, base=current.number if current else None)
        page.errors, page.summary = field_errors(result.errors, form)
        page.note = "The preview needs these fixed first."
        return _render_editor(request, db, settings, page, status_code=400)
    body = preview_variant(
        settings, result.plan.theme(month), agency=agency, agencies=[a.slug for a in agencies]
    )
    return HTMLResponse(
        body,
        headers={"Cache-Control": "no-store", "Content-Security-Policy": PREVIEW_CSP},
    )


@router.post("/plan/markdown-preview", response_class=HTMLResponse)
async def markdown_preview(request: Request, editor: Editor) -> Response:
    """One Markdown text (form field ``text``) as the bulletin renders it, sanitised, with what
    ``plan check`` would say about it: the fragment ``markdown-preview.js`` shows under a field
    while the editor types. 422 with the message for a text over the plan's length limit."""
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        return _fragment("", ["Send the text with its length"], status_code=411)
    if int(length) > PREVIEW_BODY_MAX:
        return _fragment(
            "", [f"is too long to preview; keep it under {MARKDOWN_MAX:,} characters"], 413
        )
    data = await request.form()
    value = data.get("text", "")
    if not isinstance(value, str):
        return _fragment("", ["Send the Markdown as text"], status_code=400)
    problems = markdown_problems(value)
    if len(value.strip()) > MARKDOWN_MAX:
        return _fragment("", problems, status_code=422)
    return _fragment(_prose_html(value), problems)


def _fragment(html: str, problems: list[str], status_code: int = 200) -> HTMLResponse:
    body = render_template("staff/plan/_markdown_preview.html", html=html, problems=problems)
    return HTMLResponse(
        body,
        status_code=status_code,
        headers={"Cache-Control": "no-store", "Content-Security-Policy": STAFF_CSP},
    )
