"""Reports for the board: training-link engagement by course, agency and month.

Measures come from SQL aggregates over raw and rolled-up events (``aggregate``), cached per
bulletin and recomputed when its events change (``cache``: every write of events goes
through ``newsletter.eventlog``, which tells the cache). ``training`` and ``bulletin`` build the reports; ``board`` turns a
period's training report and the previous period's into the board's view (headline, themes,
courses by theme month), written in words by ``wording`` (small numbers as "fewer than 5
people") for the ``terminal`` table (100 columns), ``html`` (inline SVG ``charts``) and ``pdf``
(WeasyPrint, A4); ``public`` hides small numbers for the analysts' ``formats`` (CSV, JSON,
the wide table). ``output`` is the one entry point of the CLI and the staff app. ``rollup``
keeps the numbers when raw events pass the retention period; ``bookings`` imports course
outcomes to show beside clicks.
"""

from newsletter.reports.board import BoardReport, build_board_report
from newsletter.reports.bookings import BookingImportError, import_bookings
from newsletter.reports.bulletin import (
    BulletinHeadline,
    BulletinReport,
    build_bulletin_report,
    bulletin_headline,
)
from newsletter.reports.cache import refresh_report_cache
from newsletter.reports.formats import FORMATS, Format, bulletin_text, training_text
from newsletter.reports.html import CHARTS, board_chart, board_context, bulletin_html, training_html
from newsletter.reports.output import Output, bulletin_output, training_output
from newsletter.reports.pdf import PdfUnavailable
from newsletter.reports.rollup import roll_up_events
from newsletter.reports.training import (
    ALL_KINDS,
    DEFAULT_KINDS,
    ReportError,
    TrainingReport,
    agency_names,
    build_training_report,
)

__all__ = [
    "ALL_KINDS",
    "CHARTS",
    "DEFAULT_KINDS",
    "FORMATS",
    "BoardReport",
    "BookingImportError",
    "BulletinHeadline",
    "BulletinReport",
    "Format",
    "Output",
    "PdfUnavailable",
    "ReportError",
    "TrainingReport",
    "agency_names",
    "board_chart",
    "board_context",
    "build_board_report",
    "build_bulletin_report",
    "build_training_report",
    "bulletin_headline",
    "bulletin_html",
    "bulletin_output",
    "bulletin_text",
    "import_bookings",
    "refresh_report_cache",
    "roll_up_events",
    "training_html",
    "training_output",
    "training_text",
]
