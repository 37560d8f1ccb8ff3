"""Style and saving: stable names, both formats, 300 dpi, reproducible PDF bytes."""

import os
import stat

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from thesis_lib.errors import ConfigError
from thesis_lib.figures import (
    SINGLE_COLUMN,
    add_note,
    figure_size,
    publication_style,
    save_figure,
)
from thesis_lib.figures.save import save_table


def small_figure():
    with publication_style():
        fig, ax = plt.subplots(figsize=figure_size("single", aspect=0.5))
        ax.plot([0, 1, 2], [1, 0, 2], label="line")
        ax.set_xlabel("x")
    return fig


def test_save_figure_writes_pdf_and_300_dpi_png_under_figures(tmp_path):
    written = save_figure(small_figure(), "example", tmp_path)
    assert written == {
        "pdf": tmp_path / "figures" / "example.pdf",
        "png": tmp_path / "figures" / "example.png",
    }
    assert written["pdf"].read_bytes().startswith(b"%PDF")
    with Image.open(written["png"]) as png:
        assert png.size == (round(SINGLE_COLUMN * 300), round(SINGLE_COLUMN * 0.5 * 300))
        assert np.allclose(png.info["dpi"], (300, 300), atol=0.1)
    # Ordinary file permissions (not the private 0600 of a temporary file).
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(written["png"].stat().st_mode) == 0o666 & ~mask
    # No temporary files are left beside the results.
    assert sorted(path.name for path in (tmp_path / "figures").iterdir()) == [
        "example.pdf",
        "example.png",
    ]


def test_saving_the_same_figure_twice_gives_identical_pdf_bytes(tmp_path):
    first = save_figure(small_figure(), "same", tmp_path / "a")["pdf"].read_bytes()
    second = save_figure(small_figure(), "same", tmp_path / "b")["pdf"].read_bytes()
    assert b"CreationDate" not in first
    assert first == second


@pytest.mark.parametrize("name", ["../escape", "sub/dir", "", "with space"])
def test_names_that_are_not_plain_file_names_are_refused(tmp_path, name):
    with pytest.raises(ConfigError, match="plain file name"):
        save_figure(small_figure(), name, tmp_path)


def test_save_table_writes_tex_under_tables(tmp_path):
    path = save_table("\\begin{tabular}{l}\\end{tabular}\n", "results", tmp_path)
    assert path == tmp_path / "tables" / "results.tex"
    assert path.read_text() == "\\begin{tabular}{l}\\end{tabular}\n"


def test_figure_sizes_are_journal_column_widths():
    assert figure_size("single", aspect=0.5) == (3.5, 1.75)
    assert figure_size("double")[0] == pytest.approx(7.16)
    with pytest.raises(ConfigError, match="single"):
        figure_size("triple")


def test_a_note_goes_in_a_band_under_the_figure_and_the_width_stays_a_column(tmp_path):
    note = "Demo numbers (generated data, 30 test images per run), not thesis results."
    plain = small_figure()
    assert add_note(plain, "") is plain and not plain.texts
    noted = small_figure()
    with publication_style():
        noted.legend(handles=noted.axes[0].lines, loc="outside lower center")  # as ROC/PR do
    add_note(noted, note)
    [text] = noted.texts
    assert text.get_text() == note  # one line at a column's width
    noted.canvas.draw()
    renderer = noted.canvas.get_renderer()
    note_box = text.get_window_extent(renderer)
    axes_box = noted.axes[0].get_tightbbox(renderer)
    legend_box = noted.legends[0].get_window_extent(renderer)
    assert note_box.y1 <= legend_box.y0 + 1  # the note under the legend
    assert legend_box.y1 <= axes_box.y0 + 1  # the legend under the panel and its labels
    written = save_figure(noted, "noted", tmp_path)
    with Image.open(written["png"]) as png:
        assert png.size[0] == round(SINGLE_COLUMN * 300)
        assert png.size[1] > round(SINGLE_COLUMN * 0.5 * 300)  # the band is added below
    long_note = add_note(small_figure(), " ".join(["word"] * 60))
    assert long_note.texts[0].get_text().count("\n") >= 2  # wrapped, not cut at the edge


def test_a_note_under_a_figure_placed_by_hand_keeps_clear_of_its_axes():
    fig, ax = plt.subplots(figsize=(3.5, 2))  # no layout engine: positions set by hand
    ax.set_xlabel("x")
    add_note(fig, "Demo numbers (generated data), not thesis results.")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    note_box = fig.texts[0].get_window_extent(renderer)
    assert note_box.y1 <= ax.get_window_extent(renderer).y0
    assert fig.get_size_inches()[0] == 3.5
