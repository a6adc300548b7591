"""Serving the web app until the process is told to stop (``serve`` and ``run``).

uvicorn handles SIGTERM and Ctrl-C itself: it stops accepting connections and lets requests in
flight finish (here for at most :data:`GRACE_SECONDS`), then runs the app's shutdown, which
flushes every recorded click and open. Afterwards uvicorn raises the signal again for the
handler that was there before it; the default SIGTERM handler would end the process on the
spot, before ``newsletter run`` has stopped its scheduler and let a send record its batch in
flight. So the signal is also turned into :func:`~newsletter.dispatch.shutdown.request_shutdown`
(sends stop after the batch in flight, waits end) the moment it arrives, and the re-raised
signal lands in a handler that lets the process finish its own way.
"""

from __future__ import annotations

import logging
import signal
import socket
from types import FrameType
from typing import Any

import uvicorn

from newsletter.dispatch import request_shutdown

log = logging.getLogger(__name__)

GRACE_SECONDS = 5  # for requests in flight; the whole stop stays well within 10 s


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        request_shutdown()
        super().handle_exit(sig, frame)


def _after_uvicorn(signum: int, _frame: FrameType | None) -> None:
    request_shutdown()


def serve_app(
    app: Any, *, host: str, port: int, sockets: list[socket.socket] | None = None
) -> None:
    """Serve ``app`` until SIGTERM or Ctrl-C, then return (never killed mid-way by the signal).

    ``sockets``: already bound and listening (``run`` binds first, so a busy port is reported
    before anything starts and the banner is printed only once the port is ours)."""
    config = uvicorn.Config(
        app, host=host, port=port, log_level="info", timeout_graceful_shutdown=GRACE_SECONDS
    )
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in signals}
    for sig in signals:
        signal.signal(sig, _after_uvicorn)
    try:
        _Server(config).run(sockets=sockets)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
