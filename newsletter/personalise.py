"""Per-recipient placeholders and the cheap substitution that fills them.

The placeholders are plain ASCII words so they survive Jinja2 autoescaping, premailer's CSS
inlining and lxml's URL handling unchanged (a test proves it), and SendGrid can fill them as
per-personalization ``substitutions``. Local transports fill them with :func:`personalise`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from functools import lru_cache

TOKEN = "__NL_TOKEN__"  # noqa: S105 -- signed tracking token (newsletter.tokens) of the delivery
SUBSCRIBER = "__NL_SUBSCRIBER__"  # the subscriber's own unsubscribe / preferences token
NAME = "__NL_NAME__"  # the subscriber's name, for the greeting

PLACEHOLDERS = (TOKEN, SUBSCRIBER, NAME)
# A capturing group, so that split() keeps the placeholders between the literal pieces.
_SPLIT = re.compile("(" + "|".join(re.escape(p) for p in PLACEHOLDERS) + ")")


@lru_cache(maxsize=64)
def _pieces(body: str) -> tuple[str, ...]:
    """``body`` cut once into literal text (even indexes) and placeholders (odd indexes).

    Cached: a batch personalises the same variant body for every recipient, and a str caches
    its own hash, so each later call costs a dictionary look-up, not a scan of the body.
    """
    return tuple(_SPLIT.split(body))


def personalise(body: str, values: Mapping[str, str]) -> str:
    """Replace every placeholder in ``body``; unknown ones become empty. Values go in verbatim."""
    pieces = _pieces(body)
    if len(pieces) == 1:
        return body
    out = list(pieces)
    for i in range(1, len(out), 2):
        out[i] = values.get(out[i], "")
    return "".join(out)


def html_values(values: Mapping[str, str]) -> dict[str, str]:
    """The same values escaped for an HTML body (a name may contain '<' or '&')."""
    return {key: html.escape(value, quote=True) for key, value in values.items()}
