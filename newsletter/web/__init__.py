"""The web app: tracking, unsubscribe, archive, webhooks, admin. See :func:`app.create_app`."""
