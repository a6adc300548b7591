"""Serving the web app until the process is told to stop (``serve``, ``serve --workers N``, ``run``).

uvicorn handles SIGTERM and Ctrl-C itself: it stops accepting connections and lets requests in
flight finish (here for at most :data:`GRACE_SECONDS`; what is still running then is cut), then
runs the app's shutdown, which flushes every recorded click and open. A click or open is
answered only once it is written, so every click answered 302 is in the database.

Afterwards uvicorn raises the signal again for the handler that was there before it; the
default SIGTERM handler would end the process on the spot (exit code -15), before
``newsletter run`` has stopped its scheduler and let a send record its batch in flight. So the
signal it raises again lands in a handler that lets the process finish its own way and exit
0; the signal is also turned into
:func:`~newsletter.dispatch.shutdown.request_shutdown` (sends stop after the batch in flight,
waits end) the moment it arrives.

With ``workers`` > 1 a supervisor process holds the listening socket and starts the workers
(uvicorn's, which restarts a worker that dies). On SIGTERM it closes its copy of the socket
(new connections are refused once the workers have closed theirs), passes the signal on, and
waits for each worker at most :data:`WORKER_STOP_SECONDS` before killing it; every worker
stops the way a single server does.
"""

from __future__ import annotations

import logging
import signal
import socket
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess
from uvicorn.supervisors.multiprocess import Process as _UvicornProcess

from newsletter.dispatch import request_shutdown

log = logging.getLogger(__name__)

GRACE_SECONDS = 5  # for requests in flight; the whole stop stays well within 10 s
# A worker's own stop: the grace above, the app's shutdown (the recorder's flush), exit.
WORKER_STOP_SECONDS = GRACE_SECONDS + 3


def _after_uvicorn(signum: int, _frame: FrameType | None) -> None:
    request_shutdown()


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        request_shutdown()
        super().handle_exit(sig, frame)

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn raises the signal again once it has served, for the handler that was there
        # before it: this one, so the process ends by returning (exit 0), not by the signal.
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.getsignal(sig) for sig in signals}
        for sig in signals:
            signal.signal(sig, _after_uvicorn)
        try:
            super().run(sockets=sockets)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class _Worker(_UvicornProcess):
    """One worker process of ``serve --workers N``, serving with :class:`_Server`."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = _Server(config=self.config)
        return self._server


class _Workers(Multiprocess):
    """uvicorn's supervisor, with bounded waits for its workers when it stops."""

    def init_processes(self) -> None:
        for _ in range(self.processes_num):
            process = _Worker(self.config, self.sockets)
            process.start()
            self.processes.append(process)

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()  # the workers hold their own copies, which they close as they stop
        super().terminate_all()

    def join_all(self) -> None:
        for process in self.processes:
            process.process.join(WORKER_STOP_SECONDS)
            if process.process.exitcode is None:
                log.error("worker %s did not stop in time: killed", process.pid)
                process.process.kill()
                process.process.join()


def serve_app(
    app: Any,
    *,
    host: str,
    port: int,
    sockets: list[socket.socket] | None = None,
    workers: int = 1,
    **config: Any,
) -> None:
    """Serve ``app`` until SIGTERM or Ctrl-C, then return (never killed mid-way by the signal).

    ``sockets``: already bound and listening (``run`` and ``serve`` bind first, so a busy port
    is reported before anything starts and the banner is printed only once the port is ours).
    ``workers`` > 1 needs ``app`` as an import string (each worker imports it); ``config``
    goes to :class:`uvicorn.Config` as it is (``log_config``, ``proxy_headers``, ``factory``).
    """
    settings = uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=workers,
        timeout_graceful_shutdown=GRACE_SECONDS,
        # No access log: it belongs to the reverse proxy (docs/deploy.md); uvicorn's log_level
        # would otherwise turn it on in every worker, a log line per click (~10% of its CPU).
        **{"log_level": "info", "access_log": False, **config},
    )
    if workers > 1:
        if sockets is None:
            sockets = [settings.bind_socket()]
        _Workers(settings, sockets=sockets).run()
        return
    server = _Server(settings)
    server.run(sockets=sockets)
    if not server.started:  # the app's start-up failed (uvicorn has logged why)
        raise SystemExit(STARTUP_FAILURE)
