"""What a matplotlib figure actually drew: bands, error bars, points, lines and texts."""

import numpy as np
from matplotlib.collections import LineCollection, PathCollection, PolyCollection
from matplotlib.text import Text


def bands(ax) -> list[np.ndarray]:
    """Vertices (x, y) of each filled band (``fill_between``)."""
    return [path.vertices for collection in ax.collections
            if isinstance(collection, PolyCollection) for path in collection.get_paths()]


def error_bars(ax) -> list[np.ndarray]:
    """Each error bar as its segment's two end points ((x0, y0), (x1, y1))."""
    return [np.asarray(segment) for collection in ax.collections
            if isinstance(collection, LineCollection) for segment in collection.get_segments()]


def points(ax) -> np.ndarray:
    """Offsets (x, y) of every scatter point."""
    offsets = [collection.get_offsets() for collection in ax.collections
               if isinstance(collection, PathCollection)]
    return np.concatenate(offsets) if offsets else np.zeros((0, 2))


def drawn_lines(ax) -> list:
    """The Line2D artists with data (not the legend's proxies)."""
    return [line for line in ax.lines if np.asarray(line.get_xdata()).size > 0]


def all_drawn_values(ax, axis: int) -> np.ndarray:
    """Every x (axis 0) or y (axis 1) coordinate that bands, error bars and lines reach."""
    values = [vertices[:, axis] for vertices in bands(ax)]
    values += [segment[:, axis] for segment in error_bars(ax)]
    for line in drawn_lines(ax):
        data = line.get_xdata() if axis == 0 else line.get_ydata()
        values.append(np.asarray(data, dtype=float))
    values.append(points(ax)[:, axis])
    for patch in ax.patches:  # bars
        box = patch.get_bbox()
        values.append(np.array([box.x0, box.x1] if axis == 0 else [box.y0, box.y1]))
    array = np.concatenate(values) if values else np.zeros(0)
    return array[np.isfinite(array)]


def figure_texts(fig) -> list[str]:
    """Every text of the figure: labels, titles, notes, legend entries and titles."""
    return [text.get_text() for text in fig.findobj(Text) if text.get_text()]


def mentions(fig, phrase: str) -> bool:
    """Whether a text of the figure says ``phrase`` (line breaks count as spaces)."""
    return any(phrase in " ".join(text.split()) for text in figure_texts(fig))
