"""The board report in words: numbers, rates, changes and sentences, with small numbers hidden.

Every human-read format of the board report (terminal table, HTML, PDF) writes its figures
through these functions, so each says the same thing the same way:

- a count of 1 to ``min_count - 1`` people is written "fewer than 5 people" (for the default 5);
- a rate built on such a count is written as a dash, with :data:`DASH_NOTE` as its footnote,
  never as a number of people under a % heading;
- a change from the previous period is written only when both figures can be shown.
"""

from __future__ import annotations

from newsletter.plan import key_label
from newsletter.reports.board import BoardReport, Figure, Period

DASH = "–"
NOTABLE_PERCENT = 10.0

# Plain words for the machine-activity rules (newsletter.tracking.rules), for the appendix.
REASONS = {
    "honeypot": "followed the hidden honeypot link no reader can see",
    "honeypot-session": "came from a reader session that also followed the honeypot link",
    "method": "checked the link without opening it (HEAD request)",
    "scanner-agent": "identified itself as a link scanner, security gateway or script",
    "scanner": "identified itself as a link scanner or security gateway",
    "empty-agent": "sent no browser identification at all",
    "apple-mpp": "Apple Mail Privacy Protection loading images for every message",
    "early-click": "clicked within seconds of delivery, before a person could read",
    "burst": "opened several links at once, as scanners do",
    "sg-machine-open": "judged a machine open by SendGrid",
}


def dash_note(min_count: int) -> str:
    return (
        f"{DASH} A rate is not shown where it is built on fewer than {min_count} people, "
        "since it would give that number away."
    )


def month_name(month: str) -> str:
    """``2026-07`` -> ``July 2026``; an extra edition ``2026-07-correction`` -> ``July 2026
    (correction)``."""
    return key_label(month)


def period_name(period: Period) -> str:
    """``July 2026``, ``July to December 2026`` or ``November 2025 to April 2026``."""
    if period.first == period.last:
        return month_name(period.first)
    first, last = month_name(period.first), month_name(period.last)
    if period.first[:4] == period.last[:4]:
        first = first.rsplit(" ", 1)[0]
    return f"{first} to {last}"


def hidden(n: int | None, min_count: int) -> bool:
    return n is not None and min_count > 0 and 0 < n < min_count


def fewer(min_count: int) -> str:
    return f"fewer than {min_count} people"


def count_text(n: int | None, min_count: int, *, none: str = "not imported") -> str:
    """A count of people: ``1,234``, ``0`` or ``fewer than 5 people``."""
    if n is None:
        return none
    if hidden(n, min_count):
        return fewer(min_count)
    return f"{n:,}"


def rate(numerator: int | None, denominator: int | None, min_count: int) -> float | None:
    """A percentage, or None where it cannot be shown (no denominator, or a hidden count)."""
    if numerator is None or not denominator:
        return None
    if hidden(numerator, min_count) or hidden(denominator, min_count):
        return None
    return 100.0 * numerator / denominator


def rate_text(numerator: int | None, denominator: int | None, min_count: int) -> str:
    """``12.5%``, or a dash (see :func:`dash_note`); ``not imported`` without bookings."""
    if numerator is None:
        return "not imported"
    value = rate(numerator, denominator, min_count)
    return DASH if value is None else f"{value:.1f}%"


def per_hundred_text(numerator: int, denominator: int, min_count: int) -> str:
    value = rate(numerator, denominator, min_count)
    return DASH if value is None else f"{value:.1f}"


def change_text(figure: Figure, min_count: int, *, previous: str) -> str:
    """The change from the previous period in words, or why there is none."""
    if figure.value is None:
        return ""
    if figure.previous is None:
        return f"no bulletin in {previous} to compare with"
    if hidden(figure.value, min_count) or hidden(figure.previous, min_count):
        return f"{previous}: {count_text(figure.previous, min_count)}"
    if figure.value == figure.previous:
        return f"no change from {previous}"
    word = "up" if figure.value > figure.previous else "down"
    if figure.previous == 0:
        return f"{word} from 0 in {previous}"
    pct = abs(figure.value - figure.previous) * 100.0 / figure.previous
    return f"{word} {pct:.0f}% from {figure.previous:,} in {previous}"


def _notable(figure: Figure, min_count: int) -> str | None:
    value, before = figure.value, figure.previous
    if value is None or before is None or before == 0:
        return None
    if hidden(value, min_count) or hidden(before, min_count):
        return None
    pct = (value - before) * 100.0 / before
    if round(abs(pct)) < NOTABLE_PERCENT or abs(value - before) < max(min_count, 1):
        return None
    verb = "rose" if value > before else "fell"
    label = figure.label if figure.key != "opened" else "Opens (indicative)"
    return f"{label} {verb} by {abs(pct):.0f}%, from {before:,} to {value:,}."


def sentences(board: BoardReport, min_count: int) -> list[str]:
    """One sentence per notable change from the previous period, then the leading theme."""
    if board.empty or board.previous is None:
        return []
    previous = period_name(board.previous)
    out: list[str] = []
    if not board.previous_sent:
        out.append(f"There is nothing to compare with: no bulletin was sent in {previous}.")
    else:
        out += [s for s in (_notable(f, min_count) for f in board.headline) if s]
        clicks, reached = board.figure("clicks"), board.figure("reached")
        now = rate(clicks.value, reached.value, min_count)
        before = rate(clicks.previous, reached.previous, min_count)
        if (
            now is not None
            and before
            and round(abs(now - before) * 100.0 / before) >= NOTABLE_PERCENT
        ):
            verb = "rose" if now > before else "fell"
            out.append(
                f"{clicks.label} per 100 people reached {verb} from {before:.1f} to {now:.1f}."
            )
        if not out:
            out.append(
                f"No headline figure changed by {NOTABLE_PERCENT:.0f}% or more from {previous}."
            )
    ranked = ranked_themes(board, min_count)
    if len(ranked) >= 2:
        best, worst = ranked[0], ranked[-1]
        out.append(
            f"{month_name(best[0])}'s theme, {best[1]}, drew the most course clicks: "
            f"{best[2]:.1f} per 100 people reached (fewest: {worst[1]}, {worst[2]:.1f})."
        )
    return out


def ranked_themes(board: BoardReport, min_count: int) -> list[tuple[str, str, float]]:
    """(month, theme, course clicks per 100 people reached), highest first; months whose rate
    cannot be shown are left out."""
    out = []
    for m in board.months:
        value = rate(m.course_clicks, m.reached, min_count)
        if value is not None:
            out.append((m.month, m.theme, value))
    return sorted(out, key=lambda t: (-t[2], t[0]))


def reason_text(reason: str) -> str:
    return REASONS.get(reason, reason)


def empty_line(board: BoardReport) -> str:
    """The whole report when nothing was sent in the period."""
    if board.period is None:
        return "No bulletin has been sent yet, so there is nothing to report."
    return f"No bulletin was sent in {period_name(board.period)}, so there is nothing to report."
