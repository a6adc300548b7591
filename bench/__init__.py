"""Benchmarks. ``make bench`` (``python -m bench``) runs them all; each prints ratios against a
baseline measured in the same run, because the machine is shared and noisy."""

from pathlib import Path

from newsletter.agencies import read_agencies

REPO = Path(__file__).resolve().parent.parent


def agency_slugs() -> list[str]:
    """The partnership's agencies, from subscribers/agencies.yaml (what the demo data uses)."""
    return [a.slug for a in read_agencies(REPO / "subscribers" / "agencies.yaml")]
