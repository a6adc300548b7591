"""The web app: tracking, unsubscribe, archive, webhooks, admin. See :func:`app.create_app`."""

from newsletter.web.app import create_app

__all__ = ["create_app"]
