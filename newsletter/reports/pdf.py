"""PDF on A4 for board papers, made from the report's own HTML by WeasyPrint.

WeasyPrint lays out the same document the browser shows, with the print styles of
``templates/report.css``: A4 pages, the report's title and period at the top of each page and
"Page N of M" at the foot. It needs the Pango libraries (Debian: ``libpango-1.0-0``,
``libpangoft2-1.0-0``); without them :class:`PdfUnavailable` says what to install.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from newsletter.config import Settings
from newsletter.reports.board import BoardReport
from newsletter.reports.bulletin import BulletinReport
from newsletter.reports.html import bulletin_html, training_html


@contextmanager
def _quiet(*names: str) -> Iterator[None]:
    """WeasyPrint logs every SVG presentation attribute it passes over and each page it lays
    out; during our own call, only its errors are worth a line in the service's log."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class PdfUnavailable(RuntimeError):
    """The PDF library or the system libraries it needs are missing."""


def html_to_pdf(html: str) -> bytes:
    """One self-contained HTML document (no external references) as PDF bytes."""
    with _quiet("weasyprint", "weasyprint.progress"):
        try:
            from weasyprint import HTML
            from weasyprint.urls import URLFetcher
        except (ImportError, OSError) as exc:  # OSError: Pango cannot be loaded
            raise PdfUnavailable(
                "PDF needs WeasyPrint and the Pango libraries "
                f"(Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0): {exc}"
            ) from exc
        # The report references nothing outside itself (charts embed their pixels as data:
        # URLs): anything else is refused rather than fetched from the network or the disk.
        fetcher = URLFetcher(allowed_protocols={"data"})
        pdf = HTML(string=html, url_fetcher=fetcher).write_pdf(pdf_identifier=False)
    assert isinstance(pdf, bytes)
    return pdf


def training_pdf(
    board: BoardReport, *, settings: Settings, generated: datetime | None = None
) -> bytes:
    """The board report as an A4 PDF."""
    html = training_html(board, settings=settings, generated=generated)
    return html_to_pdf(html)


def bulletin_pdf(
    report: BulletinReport, *, settings: Settings, generated: datetime | None = None
) -> bytes:
    """One bulletin's report as an A4 PDF."""
    html = bulletin_html(report, settings=settings, generated=generated)
    return html_to_pdf(html)
