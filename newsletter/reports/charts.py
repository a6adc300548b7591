"""Charts as inline SVG, drawn with matplotlib's SVG backend (text kept as text, no fonts or
images referenced), so the HTML report is one file that needs nothing from the network.

Every value passed in has already been through ``reports.public``: a hidden small number
arrives as a string such as ``"<5"`` and is drawn as a labelled gap, never as its value.
"""

from __future__ import annotations

import html
import io
import math
import re
import textwrap
from collections.abc import Sequence

from newsletter.reports.public import Value

# Okabe and Ito's palette: told apart with any common colour-vision deficiency. Lines also
# differ by marker, so nothing depends on colour alone.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def _svg(fig: object, salt: str) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})  # type: ignore[attr-defined]
    text = buf.getvalue()
    # Inline SVG needs neither the XML declaration nor the DOCTYPE (which names a DTD URL).
    text = re.sub(r"^<\?xml[^>]*>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    # matplotlib numbers its ids from 1 in every figure; several charts on one page need
    # their own (ids must be unique in a document, and clip paths must find their own).
    prefix = re.sub(r"[^a-z0-9]+", "-", salt.lower()).strip("-")
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)
    return text.strip()


def _figure(width: float, height: float) -> object:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=96)
    fig.set_facecolor("white")
    return fig


def _number(value: Value) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def wrap(label: str, width: int = 24) -> str:
    """A label on several lines, never cut."""
    return "\n".join(textwrap.wrap(label, width=width, break_long_words=False)) or label


def _accessible(svg: str, label: str) -> str:
    """The chart as an image with a text alternative (the same figures are in a table)."""
    safe = html.escape(label, quote=True)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{safe}" ', 1)


def trend(
    periods: Sequence[str], series: dict[str, list[Value]], *, title: str, ylabel: str
) -> str:
    """Figures by month: grouped bars for one or two months, lines from three."""
    import numpy as np

    fig = _figure(7.5, 3.4)
    ax = fig.add_subplot()  # type: ignore[attr-defined]
    labels = [wrap(p, 12) for p in periods]
    x = np.arange(len(periods))
    if len(periods) <= 2:
        width = 0.8 / max(len(series), 1)
        for i, (name, values) in enumerate(series.items()):
            heights = [_number(v) for v in values]
            bars = ax.bar(
                x + i * width - 0.4 + width / 2,
                [0.0 if math.isnan(h) else h for h in heights],
                width,
                label=name,
                color=PALETTE[i % len(PALETTE)],
            )
            for bar, v in zip(bars, values, strict=True):
                ax.annotate(
                    _value_label(v),
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                )
    else:
        for i, (name, values) in enumerate(series.items()):
            ax.plot(
                x,
                [_number(v) for v in values],
                marker=MARKERS[i % len(MARKERS)],
                color=PALETTE[i % len(PALETTE)],
                label=name,
                linewidth=2,
            )
    ax.set_xticks(x, labels=labels, fontsize=8, rotation=45 if len(periods) > 8 else 0)
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color="#ddd")
    ax.set_axisbelow(True)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(title, loc="left", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _accessible(_svg(fig, "trend-" + title), title)


def ranked_bars(labels: Sequence[str], values: Sequence[float], *, title: str, xlabel: str) -> str:
    """Horizontal bars, highest first, each labelled with its value; labels wrapped."""
    fig = _figure(7.5, max(1.6, 0.9 + 0.5 * len(labels)))
    ax = fig.add_subplot()  # type: ignore[attr-defined]
    ys = list(range(len(labels)))
    ax.barh(ys, list(values), color=PALETTE[0], height=0.6)
    ax.set_yticks(ys, labels=[wrap(label, 30) for label in labels], fontsize=8)
    ax.invert_yaxis()
    for y, v in zip(ys, values, strict=True):
        ax.annotate(
            f"{v:.1f}", (v, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8
        )
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_xlim(left=0, right=max([*values, 1.0]) * 1.15)
    ax.grid(axis="x", color="#ddd")
    ax.set_axisbelow(True)
    ax.set_title(title, loc="left", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _accessible(_svg(fig, "ranked-" + title), title)


def heat_map(
    rows: Sequence[str], columns: Sequence[str], cells: list[list[float | None]], *, title: str
) -> str:
    """Row x column percentages; cells that cannot be shown are white with a dash."""
    import numpy as np

    fig = _figure(max(5.0, 2.5 + 0.95 * len(columns)), max(2.0, 1.2 + 0.5 * len(rows)))
    ax = fig.add_subplot()  # type: ignore[attr-defined]
    grid = np.array([[math.nan if v is None else v for v in row] for row in cells], dtype=float)
    if grid.size == 0:
        grid = np.zeros((1, 1))
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=_cmap(), aspect="auto", vmin=0)
    ax.set_xticks(range(len(columns)), labels=[wrap(c, 12) for c in columns], fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(rows)), labels=[wrap(r, 28) for r in rows], fontsize=8)
    peak = float(np.nanmax(grid)) if np.isfinite(grid).any() else 0.0
    for y, row in enumerate(cells):
        for x, v in enumerate(row):
            dark = v is not None and peak > 0 and v > 0.55 * peak
            ax.text(
                x,
                y,
                "–" if v is None else f"{v:.0f}%",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "#1b1b1b",
            )
    fig.colorbar(image, ax=ax, label="Click-through %", shrink=0.8)  # type: ignore[attr-defined]
    ax.set_title(title, loc="left", fontsize=10, pad=28)
    return _accessible(_svg(fig, "heat-" + title), title)


def _value_label(value: Value) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "–" if value is None else str(value)


def _cmap() -> object:
    from matplotlib.colors import LinearSegmentedColormap

    # One hue light to dark: readable with any colour vision, and in greyscale print.
    return LinearSegmentedColormap.from_list("nl", ["#eef4fa", "#08306b"]).with_extremes(
        bad="#ffffff"
    )


def funnels(months: Sequence[str], stages: dict[str, list[Value]]) -> str:
    """Each bulletin's funnel: grouped bars (delivered, opened, clicked) per month."""
    import numpy as np

    fig = _figure(max(6.0, 1.5 + 1.1 * len(months)), 3.6)
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
            color=PALETTE[i % len(PALETTE)],
        )
        for bar, v in zip(bars, values, strict=True):
            if isinstance(v, str):
                ax.annotate(
                    v, (bar.get_x() + bar.get_width() / 2, 0), ha="center", va="bottom", fontsize=7
                )
    ax.set_xticks(x, labels=[wrap(m, 12) for m in months], fontsize=8)
    ax.set_ylabel("People")
    ax.grid(axis="y", color="#ddd")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    title = "Delivered, opened (indicative), clicked"
    ax.set_title(title, loc="left", fontsize=10)
    return _accessible(_svg(fig, "funnels"), title)
