"""Per-recipient placeholders and the cheap substitution that fills them.

The placeholders are plain ASCII words so they survive Jinja2 autoescaping, premailer's CSS
inlining and lxml's URL handling unchanged (a test proves it), and SendGrid can fill them as
per-personalization ``substitutions``. Local transports fill them with :func:`personalise`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

TOKEN = "__NL_TOKEN__"  # noqa: S105 -- signed tracking token (newsletter.tokens) of the delivery
SUBSCRIBER = "__NL_SUBSCRIBER__"  # the subscriber's own unsubscribe / preferences token
NAME = "__NL_NAME__"  # the subscriber's name, for the greeting

PLACEHOLDERS = (TOKEN, SUBSCRIBER, NAME)
_PATTERN = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))


def personalise(body: str, values: Mapping[str, str]) -> str:
    """Replace every placeholder in ``body`` in one pass. Values are inserted verbatim."""
    return _PATTERN.sub(lambda m: values.get(m.group(0), ""), body)


def html_values(values: Mapping[str, str]) -> dict[str, str]:
    """The same values escaped for an HTML body (a name may contain '<' or '&')."""
    return {key: html.escape(value, quote=True) for key, value in values.items()}
