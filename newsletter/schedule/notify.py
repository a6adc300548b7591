"""Emails to the approvers (the people with the approver role): approval requests, reminders
and alerts.

Plain-text messages through the configured transport, the same way bulletins leave, so that the
outbox shows them on the embedded default. With no approvers configured the message is only
logged (at WARNING): someone reading the log is the best we can do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from newsletter.config import Settings
from newsletter.transports import Batch, Outcome, Recipient, Transport, TransportError

log = logging.getLogger(__name__)

TransportFactory = Callable[[Settings], Transport]


class Notifier:
    """Sends one plain-text message to every approver."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport_factory: TransportFactory,
        recipients: Callable[[], Sequence[str]] | None = None,
    ) -> None:
        self._settings = settings
        self._factory = transport_factory
        # Who the approvers are now (read at each message); default NEWSLETTER_APPROVERS.
        self._recipients = recipients or (lambda: settings.approvers)

    def notify(self, subject: str, text: str) -> int:
        """Send ``subject``/``text`` to the approvers; the number of approvers it reached.

        Raises :class:`~newsletter.transports.TransportError` when nobody could be reached,
        so that the caller keeps the step undone and a later tick tries again.
        """
        approvers = list(self._recipients())
        if not approvers:
            log.warning("nobody has the approver role; not emailed: %s", subject)
            return 0
        batch = Batch(
            subject=subject,
            html=None,
            text=text,
            recipients=[
                Recipient(delivery_id=None, email=address, name="", values={})
                for address in approvers
            ],
            from_address=self._settings.from_address,
            reply_to=self._settings.reply_to,
            month=None,
        )
        transport = self._factory(self._settings)
        try:
            results = transport.send(batch)
        finally:
            transport.close()
        reached = sum(1 for r in results if r.outcome is not Outcome.failed)
        for r in results:
            if r.outcome is Outcome.failed:
                log.error("approver %s not emailed (%s): %s", r.recipient.email, r.error, subject)
        if reached == 0:
            raise TransportError(f"no approver could be emailed: {subject}")
        log.info("emailed %d approver(s): %s", reached, subject)
        return reached
