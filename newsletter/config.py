"""Settings, read once from the environment (prefix ``NEWSLETTER_``) and an optional ``.env``.

Call :func:`get_settings` at the edge of the program (CLI command, web app factory, scheduler
entry point) and pass the object down; nothing reads the environment at import time.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from newsletter.textcheck import control_problem

TransportName = Literal["outbox", "smtp", "sendgrid"]
TrackingMode = Literal["individual", "agency", "off"]
LogFormat = Literal["text", "json"]
UnknownDomains = Literal["other", "refuse"]

_PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "password", "test"}


class Settings(BaseSettings):
    """Every setting of the service. Names match the environment without the prefix."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSLETTER_", env_file=".env", extra="ignore", frozen=False
    )

    data_dir: Path = Path("var")
    database_url: str | None = None
    plan_dir: Path = Path("campaigns")
    templates_dir: Path = Path("templates")
    subscribers_dir: Path = Path("subscribers")
    transport: TransportName = "outbox"
    # The web app's port (`newsletter run`/`serve`, `make run PORT=...`); PUBLIC_BASE_URL
    # defaults to http://127.0.0.1:PORT, so the links in messages follow the port.
    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: str = ""
    secret_key: SecretStr | None = None
    # Earlier secret keys, newest first: links in emails already sent still verify, new ones
    # are signed with SECRET_KEY only (docs/operations.md: rotating the secret).
    secret_key_previous: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    from_address: str = "Safeguarding Partnership Learning <learning@example.org>"
    reply_to: str | None = None
    smtp_url: str | None = None
    sendgrid_api_key: SecretStr | None = None
    sendgrid_host: str = "https://api.sendgrid.com"
    sendgrid_timeout: float = 10.0
    sendgrid_webhook_public_key: str | None = None
    sendgrid_webhook_verify: bool = True
    sendgrid_webhook_max_age: int = 0
    timezone: str = "Europe/London"
    tracking: TrackingMode = "individual"
    # Machine-activity rules (newsletter.tracking.rules): a click sooner than this after the
    # send, two links of one delivery within burst seconds, events near a honeypot hit.
    tracking_min_click_seconds: float = 10.0
    tracking_burst_seconds: float = 2.0
    tracking_honeypot_window: float = 900.0
    approvers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Four eyes: nobody who changed a month's part of the plan since its last approval may
    # approve it. False lets one person edit and approve (a one-person team, deliberately).
    four_eyes: bool = True
    retention_months: int = 24
    # Scheduler: a send slot missed by less than this (scheduler down) still goes out; later not.
    send_grace_hours: float = Field(default=6.0, ge=0)
    schedule_tick_seconds: int = Field(default=60, ge=1)  # how often the lifecycle tick runs
    report_min_count: int = 5
    # How long a proof copy's links and its "view in browser" preview of a draft keep working.
    preview_days: int = Field(default=14, ge=1, le=365)
    # Link check before approval (newsletter.assemble.linkcheck): seconds per request, and
    # whether private, loopback and link-local targets may be fetched (never in production:
    # editors supply the URLs and the server fetches them).
    linkcheck_timeout: float = Field(default=10.0, gt=0)
    linkcheck_allow_private: bool = False

    # Operations: log lines as text or JSON (newsletter.logs); the Bearer token /metrics wants
    # (no token: /metrics answers 404, so nothing is exposed by default).
    log_format: LogFormat = "text"
    metrics_token: SecretStr | None = None

    # Dispatch (newsletter.dispatch): recipients per batch (capped by the transport's own limit),
    # failed or unknown batches before a send pauses, attempts per batch for retryable errors,
    # the longest single wait for a rate limit or backoff (seconds), and the List-Unsubscribe
    # mailto address (default: the From address).
    batch_size: int = Field(default=1000, ge=1)
    send_error_threshold: int = Field(default=10, ge=1)
    send_max_attempts: int = Field(default=5, ge=1)
    send_max_wait: float = Field(default=300.0, ge=0)
    unsubscribe_mailto: str | None = None
    # Bounces when sending over SMTP: the IMAP mailbox the scheduler reads for delivery status
    # notifications (newsletter.tracking.bounce_mailbox), and how often (seconds).
    bounce_mailbox: SecretStr | None = None
    bounce_check_seconds: int = Field(default=300, ge=10)
    # Public sign-up (/subscribe): an address whose domain no agency lists joins "other", or
    # is refused.
    signup_unknown_domains: UnknownDomains = "other"

    # Staff app (newsletter.web.staff): a session ends after this long without a request, and
    # in any case this long after sign-in; an account locked by too many wrong passwords
    # unlocks after lockout minutes; emailed invitation and reset links expire.
    staff_idle_minutes: int = Field(default=30, ge=1)
    staff_session_hours: int = Field(default=12, ge=1)
    staff_lockout_minutes: int = Field(default=15, ge=1)
    staff_invite_days: int = Field(default=7, ge=1)
    staff_reset_minutes: int = Field(default=60, ge=5)

    # Branding of the email template (templates/ reads these through the render context).
    partnership_name: str = "Safeguarding People Partnership"
    brand_colour: str = "#1d4f91"
    accent_colour: str = "#f5f7fa"
    text_colour: str = "#1b1b1b"
    background_colour: str = "#ffffff"
    logo_url: str | None = None
    postal_address: str = "Partnership Office, 1 Example Street, Exampletown, EX1 2MP"

    @field_validator("approvers", mode="before")
    @classmethod
    def _split_approvers(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("from_address", "reply_to", "unsubscribe_mailto", "partnership_name")
    @classmethod
    def _one_line(cls, value: str | None, info: ValidationInfo) -> str | None:
        # These go into every message's headers (From, Reply-To, List-Unsubscribe) or its
        # subject line: a line break here would add a header to every message sent.
        problem = control_problem(value) if value is not None else None
        if problem is not None:
            raise ValueError(f"NEWSLETTER_{str(info.field_name).upper()} {problem}")
        return value

    @field_validator("secret_key_previous", mode="before")
    @classmethod
    def _split_previous(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("secret_key_previous")
    @classmethod
    def _real_previous(cls, value: list[SecretStr]) -> list[SecretStr]:
        for key in value:
            raw = key.get_secret_value()
            if raw.lower() in _PLACEHOLDER_SECRETS or len(raw) < 16:
                raise ValueError("every previous key must be a real secret of 16+ characters")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value:
            return value  # filled in from PORT below
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("secret_key")
    @classmethod
    def _no_placeholder_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            raw = value.get_secret_value()
            if raw.lower() in _PLACEHOLDER_SECRETS or len(raw) < 16:
                raise ValueError("must be a real secret of at least 16 characters")
        return value

    @model_validator(mode="after")
    def _base_url_follows_port(self) -> Settings:
        if not self.public_base_url:
            self.public_base_url = f"http://127.0.0.1:{self.port}"
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def resolved_database_url(self) -> str:
        """The database URL; by default a SQLite file inside DATA_DIR."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'newsletter.db').resolve()}"

    @cached_property
    def secret(self) -> bytes:
        """The signing key: SECRET_KEY, or a key generated once into DATA_DIR/secret_key."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # O_EXCL: two processes starting together must not write two different keys.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()

    @cached_property
    def verification_keys(self) -> tuple[bytes, ...]:
        """Keys a token may be signed with: the current one first, then the previous ones."""
        previous = [k.get_secret_value().encode() for k in self.secret_key_previous]
        return (self.secret, *[k for k in previous if k != self.secret])


def get_settings(**overrides: object) -> Settings:
    """Read the settings from the environment (and .env); keyword overrides win."""
    return Settings(**overrides)  # type: ignore[arg-type]
