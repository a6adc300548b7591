"""The process is stopping (SIGTERM): sends in progress stop once their batch in flight is
recorded, and waits between retries end at once.

Only the entry points call :func:`request_shutdown` (``newsletter serve``/``run`` and
``python scheduler.py``, from their signal handling); library code only asks
:func:`shutdown_requested` and waits with :func:`pause`. A send stopped this way stays
``sending`` with its untouched rows ``pending``: ``newsletter bulletin send MONTH`` (or the
scheduler, once it runs again) resumes it, and nobody gets the bulletin twice.
"""

from __future__ import annotations

import threading

_requested = threading.Event()


def request_shutdown() -> None:
    """Ask every send of this process to stop after its batch in flight."""
    _requested.set()


def shutdown_requested() -> bool:
    return _requested.is_set()


def pause(seconds: float) -> None:
    """Sleep ``seconds``, or less if the process is asked to stop meanwhile."""
    _requested.wait(max(0.0, seconds))
