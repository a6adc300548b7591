"""A month's fingerprint in the plan: what its bulletin is built from, and nothing else.

A bulletin records the fingerprint of its month when it is built; it is out of date when the
month's fingerprint in the plan differs. The fingerprint covers the month's theme (title,
subject, intro, sections, targeting) and every catalogue item the theme uses (as used: an edit
to an item no section of the month uses does not count). Where things were written (file,
line) is left out, so editing another month, or moving lines around in a catalogue file, does
not make the month out of date.

The month's **send time is not part of it**: moving a month's send date or time (the bulletin
page's "change the send time", or the month editor) changes when it goes out, not what was
approved, so the approval stands and the scheduler sends it at the new time. Bulletins built
before this rule recorded a fingerprint that included the send time
(:func:`month_digest_with_send_time`); they stay current while their send time is unchanged.
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


def _digest(content: dict[str, Any]) -> str:
    encoded = json.dumps(content, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


def _content(plan: Plan, month: str) -> dict[str, Any]:
    theme = plan.theme(month)
    content = _without_sources(asdict(theme))
    # The theme's own send date and time are when, not what (see the module docstring).
    content.pop("send_date", None)
    content.pop("send_time", None)
    return {"theme": content}


def month_digest(plan: Plan, month: str) -> str:
    """SHA-256 (hex) of what ``month``'s bulletin is built from; KeyError if it has no theme."""
    return _digest(_content(plan, month))


def month_digest_with_send_time(plan: Plan, month: str) -> str:
    """The fingerprint bulletins built before the send time was left out recorded."""
    theme = plan.theme(month)
    return _digest(
        {
            "theme": _without_sources(asdict(theme)),
            "send_at": send_time(plan, theme).isoformat(),
        }
    )
