"""What one recipient's message carries besides the shared body: placeholder values and headers.

The body of a variant is rendered once (with placeholders); here we only compute the few
per-recipient strings: the signed tracking token, the subscriber's own token, the name, the
RFC 2369 / RFC 8058 unsubscribe headers and a unique Message-ID.
"""

from __future__ import annotations

import dataclasses
import functools
import secrets
from collections.abc import Iterable
from email.utils import parseaddr

from newsletter.config import Settings
from newsletter.models import Bulletin, Variant
from newsletter.personalise import NAME, SUBSCRIBER, TOKEN
from newsletter.textcheck import one_line
from newsletter.tokens import agency_token, delivery_token_signer
from newsletter.transports.base import Batch, Recipient
from newsletter.urls import unsubscribe_url

ONE_CLICK = "List-Unsubscribe=One-Click"
_POST = "List-Unsubscribe-Post"


def sender_domain(settings: Settings) -> str:
    """The domain of the From address (Message-IDs are made under it)."""
    _, address = parseaddr(settings.from_address)
    return address.rpartition("@")[2] or "localhost"


def unsubscribe_mailbox(settings: Settings) -> str:
    """The address a mailto: unsubscribe goes to: UNSUBSCRIBE_MAILTO, else the From address."""
    return _mailbox(settings.unsubscribe_mailto, settings.from_address)


@functools.lru_cache(maxsize=16)
def _mailbox(override: str | None, from_address: str) -> str:
    # Called for every recipient; parsing the From address once per send is enough.
    return override or parseaddr(from_address)[1]


def unsubscribe_headers(settings: Settings, subscriber_token: str) -> dict[str, str]:
    """RFC 2369 List-Unsubscribe (mailto first, then our one-click HTTPS URL) and RFC 8058 Post."""
    mailto = f"mailto:{unsubscribe_mailbox(settings)}?subject=unsubscribe"
    return {
        "List-Unsubscribe": f"<{mailto}>, <{unsubscribe_url(settings, subscriber_token)}>",
        "List-Unsubscribe-Post": ONE_CLICK,
    }


def message_id(domain: str, delivery_id: int | None) -> str:
    """A unique RFC 5322 Message-ID; a resend (``--retry-unknown``) gets a new one."""
    ref = f"d{delivery_id}" if delivery_id is not None else "test"
    return f"<nl.{ref}.{secrets.token_hex(8)}@{domain}>"


class RecipientFactory:
    """Builds each recipient of one bulletin's send; what is shared is computed once."""

    def __init__(self, settings: Settings, *, bulletin_id: int) -> None:
        self.settings = settings
        self.bulletin_id = bulletin_id
        self.domain = sender_domain(settings)
        self.individual = settings.tracking == "individual"
        self.sign = delivery_token_signer(settings.secret)
        self._agency_tokens: dict[str, str] = {}
        # Shared by every recipient of the send: the unsubscribe header's fixed parts and the
        # Message-ID's random part (one per run, so a resend still gets a new Message-ID; the
        # delivery id keeps them unique within the run without a urandom call per recipient).
        mailto = f"<mailto:{unsubscribe_mailbox(settings)}?subject=unsubscribe>, <"
        self._unsubscribe_prefix = mailto + unsubscribe_url(settings, "")
        self._message_id_suffix = f".{secrets.token_hex(8)}@{self.domain}>"

    def tracking_token(self, *, delivery_id: int, agency: str) -> str:
        """The token in the recipient's tracking links: per delivery, or per agency when
        tracking is anonymised (``agency``) or off (links then only identify the variant)."""
        if self.individual:
            return self.sign(delivery_id)
        token = self._agency_tokens.get(agency)
        if token is None:
            token = agency_token(self.settings.secret, self.bulletin_id, agency)
            self._agency_tokens[agency] = token
        return token

    def __call__(
        self, *, delivery_id: int, agency: str, email: str, name: str, subscriber_token: str
    ) -> Recipient:
        name = one_line(name)  # anything stored before names were checked on entry
        return Recipient(
            delivery_id=delivery_id,
            email=email,
            name=name,
            values={
                TOKEN: self.tracking_token(delivery_id=delivery_id, agency=agency),
                SUBSCRIBER: subscriber_token,
                # The greeting reads "Hello colleague," rather than "Hello ," for no name.
                NAME: name or "colleague",
            },
            headers={
                "List-Unsubscribe": f"{self._unsubscribe_prefix}{subscriber_token}>",
                "List-Unsubscribe-Post": ONE_CLICK,
            },
            message_id=f"<nl.d{delivery_id}{self._message_id_suffix}",
        )

    def many(self, rows: Iterable[tuple[int, str, str, str, str]]) -> list[Recipient]:
        """Recipients for ``(delivery id, agency, email, name, subscriber token)`` rows, the
        same as calling the factory for each (a batch is 1000 of them: the shared lookups are
        hoisted out of the loop)."""
        sign = self.sign if self.individual else None
        token_for = self.tracking_token
        prefix = self._unsubscribe_prefix
        suffix = self._message_id_suffix
        out = []
        for delivery_id, agency, email, stored_name, subscriber_token in rows:
            # A name stored before names were checked on entry may hold a line break: it is
            # flattened here so that no transport is ever handed one for a header.
            name = one_line(stored_name)
            token = (
                sign(delivery_id)
                if sign is not None
                else token_for(delivery_id=delivery_id, agency=agency)
            )
            out.append(
                Recipient(
                    delivery_id,
                    email,
                    name,
                    {TOKEN: token, SUBSCRIBER: subscriber_token, NAME: name or "colleague"},
                    {"List-Unsubscribe": f"{prefix}{subscriber_token}>", _POST: ONE_CLICK},
                    f"<nl.d{delivery_id}{suffix}",
                )
            )
        return out


def variant_batch(
    settings: Settings,
    bulletin: Bulletin,
    variant: Variant,
    recipients: list[Recipient],
    *,
    subject_prefix: str = "",
) -> Batch:
    """One variant's shared content addressed to ``recipients``."""
    return Batch(
        subject=one_line(f"{subject_prefix}{variant.subject}"),
        html=variant.html,
        text=variant.text,
        recipients=recipients,
        from_address=settings.from_address,
        reply_to=settings.reply_to,
        bulletin_id=bulletin.id,
        month=bulletin.month,
        category=f"bulletin-{bulletin.month}",
    )


def replace_recipients(batch: Batch, recipients: list[Recipient]) -> Batch:
    return dataclasses.replace(batch, recipients=recipients)
