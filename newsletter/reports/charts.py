"""Charts as inline SVG, drawn with matplotlib's SVG backend (text kept as text, no fonts or
images referenced), so the HTML report is one file that needs nothing from the network.

Every value passed in has already been through ``reports.public``: a hidden small number
arrives as a string such as ``"<5"`` and is drawn as a labelled gap, never as its value.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence

from newsletter.reports.public import Value

_PALETTE = ["#1d4f91", "#d4351c", "#00703c", "#f47738", "#4c2c92", "#28a197", "#b58840", "#6f72af"]


def _svg(fig: object, salt: str) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})  # type: ignore[attr-defined]
    text = buf.getvalue()
    # Inline SVG needs neither the XML declaration nor the DOCTYPE (which names a DTD URL).
    text = re.sub(r"^<\?xml[^>]*>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    return text.strip()


def _figure(width: float, height: float) -> object:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=96)
    fig.set_facecolor("white")
    return fig


def _number(value: Value) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def ctr_by_month(months: Sequence[str], series: dict[str, list[Value]], *, hidden: str) -> str:
    """One line per course: human click-through (%) per month; hidden values leave a gap."""
    fig = _figure(8, 3.6)
    ax = fig.add_subplot()  # type: ignore[attr-defined]
    for i, (name, values) in enumerate(series.items()):
        ys = [_number(v) for v in values]
        ax.plot(months, ys, marker="o", color=_PALETTE[i % len(_PALETTE)], label=name[:40])
        for x, v in zip(months, values, strict=True):
            if isinstance(v, str):
                ax.annotate(v, (x, 0), ha="center", fontsize=7, color="#555")
    ax.set_ylabel("Click-through % (human)")
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color="#ddd")
    ax.set_title("Course click-through by month")
    if series:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    if len(months) > 8:
        ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    ax.text(
        0,
        -0.18,
        f"Gaps and {hidden}: fewer than the threshold of people.",
        transform=ax.transAxes,
        fontsize=7,
        color="#555",
    )
    return _svg(fig, "ctr-by-month")


def heat_map(courses: Sequence[str], agencies: Sequence[str], cells: list[list[Value]]) -> str:
    """Course x agency click-through (%); hidden cells grey with their label."""
    import numpy as np

    fig = _figure(max(5.0, 1.0 + 0.9 * len(agencies)), max(2.0, 0.8 + 0.42 * len(courses)))
    ax = fig.add_subplot()  # type: ignore[attr-defined]
    grid = np.array([[_number(v) for v in row] for row in cells], dtype=float)
    if grid.size == 0:
        grid = np.zeros((1, 1))
    masked = np.ma.masked_invalid(grid)
    cmap = _cmap()
    image = ax.imshow(masked, cmap=cmap, aspect="auto", vmin=0)
    ax.set_xticks(
        range(len(agencies)), labels=[a[:18] for a in agencies], rotation=30, ha="right", fontsize=8
    )
    ax.set_yticks(range(len(courses)), labels=[c[:40] for c in courses], fontsize=8)
    peak = float(np.nanmax(grid)) if np.isfinite(grid).any() else 0.0
    for y, row in enumerate(cells):
        for x, v in enumerate(row):
            label = "–" if v is None else v if isinstance(v, str) else f"{v:.0f}%"
            dark = isinstance(v, int | float) and peak and v > 0.6 * peak
            ax.text(
                x,
                y,
                label,
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "#1b1b1b",
            )
    fig.colorbar(image, ax=ax, label="Click-through % (human)", shrink=0.8)  # type: ignore[attr-defined]
    ax.set_title("Course x agency click-through")
    return _svg(fig, "heat-map")


def _cmap() -> object:
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("nl", ["#f3f6fb", "#1d4f91"]).with_extremes(
        bad="#d9d9d9"
    )


def funnels(months: Sequence[str], stages: dict[str, list[Value]]) -> str:
    """Each bulletin's funnel: grouped bars (delivered, opened, clicked) per month."""
    import numpy as np

    fig = _figure(8, 3.6)
    ax = fig.add_subplot()  # type: ignore[attr-defined]
    x = np.arange(len(months))
    width = 0.8 / max(len(stages), 1)
    for i, (name, values) in enumerate(stages.items()):
        heights = [0.0 if isinstance(v, str) or v is None else float(v) for v in values]
        bars = ax.bar(
            x + i * width - 0.4 + width / 2,
            heights,
            width,
            label=name,
            color=_PALETTE[i % len(_PALETTE)],
        )
        for bar, v in zip(bars, values, strict=True):
            if isinstance(v, str):
                ax.annotate(
                    v, (bar.get_x() + bar.get_width() / 2, 0), ha="center", va="bottom", fontsize=7
                )
    ax.set_xticks(x, labels=list(months), fontsize=8, rotation=60 if len(months) > 8 else 0)
    ax.set_ylabel("People")
    ax.grid(axis="y", color="#ddd")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Each bulletin's funnel: delivered, opened (indicative), clicked")
    return _svg(fig, "funnels")
