"""The embedded default transport: one ``.eml`` file per message under DATA_DIR/outbox/.

Bulletins go to ``outbox/MONTH/``, notifications to ``outbox/notifications/``. Each file is
written to a temporary name and renamed into place, so a reader (or a crash) never sees half a
message. The name starts with the delivery id, so an operator can find a recipient's message.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from newsletter.transports.base import Batch, Outcome, RecipientResult
from newsletter.transports.mime import BadAddress, render_message


class OutboxTransport:
    name = "outbox"

    def __init__(self, root: Path, *, max_batch: int = 1000) -> None:
        self.root = root
        self.max_batch = max_batch

    def folder(self, batch: Batch) -> Path:
        return self.root / (batch.month or "notifications")

    def send(self, batch: Batch) -> list[RecipientResult]:
        folder = self.folder(batch)
        folder.mkdir(parents=True, exist_ok=True)
        results = []
        for recipient in batch.recipients:
            try:
                data = render_message(batch, recipient)
            except BadAddress as exc:
                results.append(RecipientResult(recipient, Outcome.failed, error=str(exc)))
                continue
            ref = f"d{recipient.delivery_id}" if recipient.delivery_id is not None else "test"
            stem = f"{ref}-{secrets.token_hex(6)}"
            tmp = folder / f".{stem}.tmp"
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, folder / f"{stem}.eml")
            results.append(RecipientResult(recipient, Outcome.sent, provider_message_id=stem))
        return results

    def close(self) -> None:
        """Nothing to release."""
