"""Server-rendered pages of the web app (newsletter/web/templates/, autoescaped Jinja2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from newsletter.templating import make_environment

_ENV = make_environment(Path(__file__).parent / "templates")


def render_page(
    request: Request, name: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render ``templates/<name>`` with the partnership's name available to every page."""
    context.setdefault("partnership_name", request.app.state.settings.partnership_name)
    html = _ENV.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def render_template(name: str, **context: Any) -> str:
    """Render ``templates/<name>`` to text with the one Jinja environment of the web app."""
    return _ENV.get_template(name).render(**context)
