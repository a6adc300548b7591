"""A subscriber's own fields, judged the same way wherever they arrive.

The CSV import, the sign-up form, list sync and the JSON API all call :func:`clean_name` (and
:func:`~newsletter.subscribers.addresses.parse_address` for the address), so a name that would
forge an email header (``"Evil\\r\\nBcc: ..."``) or garble a page is refused at the door with
the field named, never discovered at send time.
"""

from __future__ import annotations

from newsletter.textcheck import control_problem

NAME_MAX = 200  # characters; also the import's limit


class FieldError(ValueError):
    """A field's value cannot be stored; ``field`` names it, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}")
        self.field = field
        self.reason = message


def clean_name(value: str, *, field: str = "name") -> str:
    """The name as stored (surrounding spaces trimmed); raises :class:`FieldError` when it is
    too long or holds a line break or another control character."""
    name = value.strip()
    if len(name) > NAME_MAX:
        raise FieldError(field, f"longer than {NAME_MAX} characters")
    problem = control_problem(name)
    if problem is not None:
        raise FieldError(field, problem)
    return name
