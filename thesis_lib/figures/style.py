"""One publication style for every figure of the thesis.

Figures are drawn at their printed size (one column or the text width), so that 8 pt text
stays 8 pt in the PDF. Colours: seaborn's ``colorblind`` palette; heatmaps ``viridis``
(perceptually uniform, readable in grey print).
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator

import matplotlib as mpl
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.transforms import Bbox

from thesis_lib.errors import ConfigError

# Widths in inches of one column and of the full text width of a two-column page (IEEE/IJCCC).
SINGLE_COLUMN = 3.5
DOUBLE_COLUMN = 7.16
PALETTE_NAME = "colorblind"
HEATMAP_CMAP = "viridis"
BASE_FONT_SIZE = 8
# Notes under a figure (add_note): their font size and the height of one line, in inches.
NOTE_FONT_SIZE = 6
NOTE_LINE_INCHES = 0.1
LEGEND_GAP = 0.01  # figure fraction between a legend under the panels and the panels

_WIDTHS = {"single": SINGLE_COLUMN, "double": DOUBLE_COLUMN}


def palette(n_colors: int | None = None) -> list[tuple[float, float, float]]:
    """The colour-blind-safe palette used for categories (variants, datasets)."""
    return sns.color_palette(PALETTE_NAME, n_colors=n_colors)


def figure_size(width: str | float = "single", aspect: float = 0.75) -> tuple[float, float]:
    """(width, height) in inches for a figure of the given column width.

    Args:
        width: ``"single"``, ``"double"`` or a width in inches.
        aspect: height divided by width.
    """
    if isinstance(width, str):
        if width not in _WIDTHS:
            raise ConfigError(f"figure width {width!r} is not one of {sorted(_WIDTHS)} or inches")
        inches = _WIDTHS[width]
    else:
        inches = float(width)
    return inches, inches * aspect


def style_rc() -> dict:
    """Matplotlib settings of the publication style (seaborn "paper" context, ticks style)."""
    rc = {**sns.axes_style("ticks"), **sns.plotting_context("paper")}
    rc.update(
        {
            "font.size": BASE_FONT_SIZE,
            "axes.labelsize": BASE_FONT_SIZE,
            "axes.titlesize": BASE_FONT_SIZE + 1,
            "xtick.labelsize": BASE_FONT_SIZE - 1,
            "ytick.labelsize": BASE_FONT_SIZE - 1,
            "legend.fontsize": BASE_FONT_SIZE - 1,
            "legend.title_fontsize": BASE_FONT_SIZE - 1,
            "legend.frameon": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.prop_cycle": mpl.cycler(color=palette()),
            "image.cmap": HEATMAP_CMAP,
            # Constrained layout keeps labels inside the figure without changing its size,
            # unlike bbox_inches="tight", so the printed width stays exactly a column.
            "figure.constrained_layout.use": True,
            "savefig.dpi": 300,
            # Text stays text (searchable, editable) in the PDF; TrueType avoids Type 3 fonts,
            # which some journal systems reject.
            "pdf.fonttype": 42,
            "ps.fonttype": 42,
        }
    )
    return rc


@contextlib.contextmanager
def publication_style() -> Iterator[None]:
    """Context in which figures are drawn in the publication style; restores settings after."""
    with mpl.rc_context(style_rc()):
        yield


def add_note(fig: Figure, note: str) -> Figure:
    """Write ``note`` in small grey italics in a band added under the figure (the width and
    the layout above stay as they are). "" leaves the figure as it is."""
    if not note:
        return fig
    width, height = fig.get_size_inches()
    # About 0.55 em per character: wrap so that each line fits the printed width.
    lines = textwrap.wrap(note, width=max(20, int(width * 72 / (NOTE_FONT_SIZE * 0.55))))
    band = NOTE_LINE_INCHES * (len(lines) + 0.5)
    fig.set_size_inches(width, height + band)
    share = band / (height + band)
    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):
        bottom = share
        for legend in fig.legends:
            # A legend "outside lower" the panels stands on the band instead of the figure's
            # edge, and the panels keep their room above it.
            if getattr(legend, "_outside_loc", None) == "lower":
                legend.set_bbox_to_anchor(Bbox.from_bounds(0, share, 1, 0),
                                          transform=fig.transFigure)
                extent = legend.get_window_extent(fig.canvas.get_renderer())
                bottom += extent.height / fig.bbox.height + LEGEND_GAP
        engine.set(rect=(0, bottom, 1, 1 - bottom))
    else:  # a figure placed by hand: move its axes up into the old height
        for ax in fig.axes:
            x0, y0, w, h = ax.get_position().bounds
            ax.set_position([x0, share + y0 * (1 - share), w, h * (1 - share)])
    fig.text(0.5, share / 2, "\n".join(lines), ha="center", va="center",
             fontsize=NOTE_FONT_SIZE, fontstyle="italic", color="0.35")
    return fig
