"""A month's fingerprint in the plan: what its bulletin is built from, and nothing else.

A bulletin records the fingerprint of its month when it is built; it is out of date when the
month's fingerprint in the plan differs. The fingerprint covers the month's theme (title,
subject, intro, sections, targeting), every catalogue item the theme uses (as used: an edit to
an item no section of the month uses does not count) and the month's send time. Where things
were written (file, line) is left out, so editing another month, or moving lines around in a
catalogue file, does not make the month out of date.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from newsletter.plan.model import Plan
from newsletter.plan.slots import send_time


def _without_sources(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_sources(v) for k, v in value.items() if k != "source"}
    if isinstance(value, list | tuple):
        return [_without_sources(v) for v in value]
    return value


def month_digest(plan: Plan, month: str) -> str:
    """SHA-256 (hex) of what ``month``'s bulletin is built from; KeyError if it has no theme."""
    theme = plan.theme(month)
    content = {
        "theme": _without_sources(asdict(theme)),
        "send_at": send_time(plan, theme).isoformat(),
    }
    encoded = json.dumps(content, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()
