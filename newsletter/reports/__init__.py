"""Reports for the board: training-link engagement by course, agency and month.

Measures come from SQL aggregates over raw and rolled-up events (``aggregate``), cached per
bulletin and recomputed when its events change (``cache``: every write of events goes through
``newsletter.eventlog``, which tells the cache); ``public`` hides small numbers once for every format (``formats``:
table, CSV, JSON; ``html``: one self-contained page with inline SVG ``charts``). ``rollup`` keeps the numbers when raw events
pass the retention period; ``bookings`` imports course outcomes to show beside clicks.
"""

from newsletter.reports.bookings import BookingImportError, import_bookings
from newsletter.reports.bulletin import BulletinReport, build_bulletin_report
from newsletter.reports.cache import refresh_report_cache
from newsletter.reports.formats import FORMATS, Format, bulletin_text, training_text
from newsletter.reports.html import bulletin_html, training_html
from newsletter.reports.rollup import roll_up_events
from newsletter.reports.training import (
    ALL_KINDS,
    DEFAULT_KINDS,
    ReportError,
    TrainingReport,
    build_training_report,
)

__all__ = [
    "ALL_KINDS",
    "DEFAULT_KINDS",
    "FORMATS",
    "BookingImportError",
    "BulletinReport",
    "Format",
    "ReportError",
    "TrainingReport",
    "build_bulletin_report",
    "build_training_report",
    "bulletin_html",
    "bulletin_text",
    "import_bookings",
    "refresh_report_cache",
    "roll_up_events",
    "training_html",
    "training_text",
]
