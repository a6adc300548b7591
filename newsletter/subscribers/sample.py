"""The demo's data: the agency catalogue and the sample list of made-up people."""

from __future__ import annotations

from sqlmodel import Session

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.config import Settings
from newsletter.models import Source, utcnow
from newsletter.subscribers.importer import ImportReport, import_csv

SAMPLE_CONSENT = "sample data (made-up people)"


def load_sample(session: Session, settings: Settings) -> ImportReport:
    """Sync ``agencies.yaml`` and import ``sample.csv`` from SUBSCRIBERS_DIR (no commit).

    Safe to repeat: a second load changes nothing. Raises AgencyFileError or
    ImportFileError when a file is unusable.
    """
    folder = settings.subscribers_dir
    sync_agencies(session, read_agencies(folder / "agencies.yaml"))
    return import_csv(
        session,
        folder / "sample.csv",
        now=utcnow(),
        consent_source=SAMPLE_CONSENT,
        source=Source.sample,
    )
