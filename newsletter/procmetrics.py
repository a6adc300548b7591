"""Metrics only a process can know (the event recorder's queue and commit time).

Everything else ``/metrics`` shows is read from the database when scraped, so it is the same
whichever web worker or host answers. These two live in the process that records events; with
several workers, ``newsletter serve`` points PROMETHEUS_MULTIPROC_DIR at a fresh directory
before starting them, and prometheus-client's multiprocess mode adds up the workers' values.
The metric objects are created on first use, never at import time.
"""

from __future__ import annotations

from functools import cache
from typing import Any

COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@cache
def _metrics() -> tuple[Any, Any]:
    from prometheus_client import Gauge, Histogram

    depth = Gauge(
        "newsletter_recorder_queue_depth",
        "Tracking events waiting to be committed by this host's web workers.",
        multiprocess_mode="livesum",
    )
    commit = Histogram(
        "newsletter_recorder_commit_seconds",
        "Time to commit one group-commit batch of tracking events.",
        buckets=COMMIT_BUCKETS,
    )
    return depth, commit


def queued(n: int) -> None:
    _metrics()[0].inc(n)


def written(n: int, seconds: float) -> None:
    depth, commit = _metrics()
    depth.dec(n)
    commit.observe(seconds)


def render() -> bytes:
    """These metrics in the text exposition format (all workers' when in multiprocess mode)."""
    import os

    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

    _metrics()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
