"""Interpreter settings for a process that does nothing but send: ``newsletter bulletin send``.

Both settings are process-wide, so they belong to the process that is only a sender, never to
the send loop itself: inside ``newsletter run`` the same loop shares its process with the web
app and the scheduler, whose threads must not be re-tuned (nor restored in the wrong order by
two overlapping sends). The command applies them once, around its one send.

* A shorter GIL switch interval (0.5 ms instead of 5 ms): the thread posting a batch needs the
  GIL for a moment after every network wait, and with the default interval it waits up to 5 ms
  behind the thread building the next page, each time.
* ``gc.freeze()``: what is loaded before the send (SQLAlchemy, the models, the HTTP client)
  moves out of the cyclic collector's sight, so the collections that a batch's many short-lived
  objects trigger no longer walk it all.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

SEND_SWITCH_INTERVAL = 0.0005


@contextmanager
def dedicated_send_process() -> Iterator[None]:
    """Tune the interpreter for the rest of a send-only process (restored on exit)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, SEND_SWITCH_INTERVAL))
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        sys.setswitchinterval(previous)
