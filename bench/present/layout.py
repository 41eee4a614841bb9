"""The report's figures: created with margins fixed in inches, drawn once, saved atomically.

matplotlib's constrained layout draws a figure twice (once, without rendering, to measure
every text) and then solves for the margins; in `loopvec report` that was about 40% of
the plotting time. The report's figures are grids of panels whose labels have known
sizes (tick labels, one axis label, a title of a line or two, a legend inside the
axes), so margins fixed in inches, grown by the titles' line counts and the footer,
do the same job in one draw.
"""
from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path
from typing import Any

from loopvec.bench.store.atomic import write_atomic

LEFT_IN = 0.95  # y tick labels ("100 µs") and the y label
RIGHT_IN = 0.4
TWIN_IN = 0.85  # a second y axis on the right: its tick labels and label
BOTTOM_IN = 0.62  # x tick labels and the x label
TOP_IN = 0.42  # above the panels' titles, before the figure's title
LINE_IN = 0.24  # one line of a title (the figure's at 12-13 pt, a panel's at 9-11 pt)
GAP_W_IN = 1.0  # between panels side by side: the right one's y tick labels and y label
GAP_H_IN = 0.78  # between rows: the upper panel's x tick labels and x label (its title is added)
FOOTER_PT = 7.5  # the footer's font size
FOOTER = "footer"  # its gid, by which arrange() finds it
DPI = 100


def new_figure(width_in: float, height_in: float, nrows: int = 1, ncols: int = 1) -> tuple[Any, list[Any]]:
    """A figure of nrows x ncols panels (row by row), without a layout engine: save() places them."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    return fig, axes


def grid(n: int, w: float = 5.4, h: float = 4.2) -> tuple[Any, list[Any]]:
    """n panels of about w x h inches, up to three side by side."""
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig, axes = new_figure(max(w * ncols, 8.0), h * nrows + 0.9, nrows, ncols)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def place_footer(fig: Any, text: str) -> None:
    """A small-print footer across the bottom (wrapped to the width); save() keeps the panels clear of it."""
    w_in, _ = fig.get_size_inches()
    lines = textwrap.wrap(text.replace("`", ""), width=max(40, int(w_in * 15.5)))
    fig.text(0.008, 0.006, "\n".join(lines), fontsize=FOOTER_PT, color="0.3", ha="left", va="bottom", gid=FOOTER)


def _lines(text: str) -> int:
    return text.count("\n") + 1 if text else 0


def arrange(fig: Any) -> None:
    """Margins in inches from what the figure holds: the titles' lines, a footer, a right-hand y axis."""
    w, h = fig.get_size_inches()
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_subplotspec() is not None]
    if not panels:
        return
    nrows, ncols = panels[0].get_subplotspec().get_gridspec().get_geometry()
    sup = _lines(fig.get_suptitle()) if hasattr(fig, "get_suptitle") else 1
    title = max(_lines(ax.get_title()) for ax in panels)
    footer = max((_lines(t.get_text()) for t in fig.texts if t.get_gid() == FOOTER), default=0)
    twin = any(ax.yaxis.get_label_position() == "right" or ax.child_axes for ax in panels)
    right_in = TWIN_IN if twin else RIGHT_IN
    bottom_in = BOTTOM_IN + (footer * FOOTER_PT * 1.25 / 72 + 0.08 if footer else 0.0)
    top_in = TOP_IN + LINE_IN * (sup * 1.25 + title)
    gap_w, gap_h = GAP_W_IN + (right_in - RIGHT_IN), GAP_H_IN + LINE_IN * title
    left, right, bottom, top = LEFT_IN / w, 1 - right_in / w, bottom_in / h, 1 - top_in / h
    # subplots_adjust's spaces are fractions of a panel's width and height
    pw = max((w * (right - left) - (ncols - 1) * gap_w) / ncols, 0.5)
    ph = max((h * (top - bottom) - (nrows - 1) * gap_h) / nrows, 0.5)
    fig.subplots_adjust(left=left, right=right, bottom=bottom, top=top, wspace=gap_w / pw, hspace=gap_h / ph)


def save(fig: Any, path: Path) -> None:
    """The figure as PNG at `path`, written atomically, with no timestamp in it (regenerating gives the same bytes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if fig.get_layout_engine() is None:
        arrange(fig)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    write_atomic(path, buf.getvalue())
