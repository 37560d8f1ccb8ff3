"""Accuracy figures: drawn values equal the data (means, t intervals), labels and legends."""

import numpy as np
import pandas as pd
import pytest
from figure_artists import drawn_lines, error_bars, figure_texts, mentions, points
from matplotlib.container import BarContainer
from scipy import stats

from thesis_lib.errors import DataError
from thesis_lib.figures import (
    plot_accuracy_by_variant,
    plot_accuracy_vs_modules,
    plot_cross_dataset,
    save_figure,
)

# The thesis' table (mean %, SD) turned into five synthetic runs per network.
PUBLISHED = {
    "EfficientNetV2B2": (81.368, 0.174, 0),
    "B2 + 2 Gram modules": (81.772, 0.118, 2),
    "B2 + 3 Gram modules": (81.806, 0.177, 3),
    "B2 + 4 Gram modules": (81.826, 0.086, 4),
}


@pytest.fixture
def runs() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [
        {"network": name, "modules": modules, "seed": seed,
         "accuracy": (mean + sd * rng.standard_normal()) / 100}
        for name, (mean, sd, modules) in PUBLISHED.items()
        for seed in range(5)
    ]
    return pd.DataFrame(rows)


def t_interval_percent(values) -> tuple[float, float]:
    values = np.asarray(values) * 100
    return stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))


def test_accuracy_by_variant_draws_each_run_and_the_mean_with_t_interval(runs, tmp_path):
    fig = plot_accuracy_by_variant(runs)
    ax = fig.axes[0]
    assert [label.get_text() for label in ax.get_yticklabels()] == list(PUBLISHED)
    assert ax.get_xlabel() == "Test accuracy (%)"
    assert [text.get_text() for text in fig.legends[0].get_texts()] == [
        "one run (seed)",
        "mean ± 95 % t CI (n ≥ 3 seeds)",
    ]
    assert np.allclose(np.sort(points(ax)[:, 0]), np.sort(runs["accuracy"] * 100))
    # The error bar of the first network spans scipy's t interval around the mean.
    first = runs[runs["network"] == "EfficientNetV2B2"]["accuracy"]
    assert np.allclose(sorted(error_bars(ax)[0][:, 0]), t_interval_percent(first))
    mean_marker = next(line for line in ax.lines if line.get_marker() == "D")
    assert mean_marker.get_xdata()[0] == pytest.approx(first.mean() * 100)
    paths = save_figure(fig, "accuracy_by_variant", tmp_path)
    assert paths["pdf"].is_file() and paths["png"].is_file()


def test_percentages_instead_of_fractions_are_refused_with_a_hint(runs):
    percent = runs.assign(accuracy=runs["accuracy"] * 100)
    with pytest.raises(DataError, match="divide percentages by 100"):
        plot_accuracy_by_variant(percent)


def test_missing_column_is_named(runs):
    with pytest.raises(DataError, match="'network'"):
        plot_accuracy_by_variant(runs.drop(columns="network"))


def test_accuracy_vs_modules_plots_the_mean_per_module_count(runs, tmp_path):
    fig = plot_accuracy_vs_modules(runs)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Number of Gram modules"
    assert ax.get_ylabel() == "Test accuracy (%)"
    assert list(ax.get_xticks()) == [0, 2, 3, 4]
    mean_line = next(line for line in ax.lines if len(line.get_xdata()) == 4)
    expected = runs.groupby("modules")["accuracy"].mean() * 100
    assert np.allclose(mean_line.get_xdata(), expected.index)
    assert np.allclose(mean_line.get_ydata(), expected.to_numpy())
    assert save_figure(fig, "accuracy_vs_modules", tmp_path)["png"].is_file()


def test_accuracy_vs_modules_with_hue_has_one_legend_entry_per_series(runs):
    tagged = runs.assign(taps=np.where(runs["seed"] % 2 == 0, "shallow", "deep"))
    fig = plot_accuracy_vs_modules(tagged, hue="taps")
    legend = fig.legends[0]
    assert legend.get_title().get_text() == "taps"
    assert [text.get_text() for text in legend.get_texts()][:2] == ["shallow", "deep"]


def test_cross_dataset_bars_have_the_group_means_and_t_intervals(tmp_path):
    published = {"test split": (81.79, 81.41), "UnbiasedEmo": (81.59, 80.85),
                 "Emotion-6": (72.81, 69.46)}
    rng = np.random.default_rng(1)
    rows = []
    for dataset, (proposed, baseline) in published.items():
        for seed in range(5):
            for network, mean in (("baseline", baseline), ("proposed", proposed)):
                rows.append({"dataset": dataset, "network": network, "seed": seed,
                             "accuracy": (mean + 0.3 * rng.standard_normal()) / 100})
    runs = pd.DataFrame(rows)
    fig = plot_cross_dataset(runs, network_order=["baseline", "proposed"])
    ax = fig.axes[0]
    assert [label.get_text() for label in ax.get_xticklabels()] == list(published)
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["baseline", "proposed"]
    assert ax.get_ylabel() == "Test accuracy (%)"
    heights = [bar.get_height() for container in ax.containers
               if isinstance(container, BarContainer) for bar in container]
    expected = [runs[(runs.network == network) & (runs.dataset == dataset)]["accuracy"].mean()
                * 100 for network in ("baseline", "proposed") for dataset in published]
    assert np.allclose(heights, expected)
    # One error bar per bar, spanning scipy's t interval.
    emotion6 = runs[(runs.network == "baseline") & (runs.dataset == "Emotion-6")]["accuracy"]
    spans = [sorted(segment[:, 1]) for segment in error_bars(ax)]
    assert len(spans) == 6
    assert np.allclose(spans[2], t_interval_percent(emotion6))
    assert [text.get_text().splitlines()[0] for text in ax.texts][-1] == \
        "error bars: mean ± 95 % t CI (n ≥ 3 seeds)"
    # Without those columns, the figure says what it cannot show.
    assert len(fig.axes) == 1
    assert mentions(fig, "balanced accuracy: not in the table")
    assert mentions(fig, "majority rate: not in the table")
    assert save_figure(fig, "cross_dataset", tmp_path)["pdf"].is_file()


def test_cross_dataset_of_published_means_has_no_error_bars():
    published = pd.DataFrame({"dataset": ["UnbiasedEmo", "UnbiasedEmo"],
                              "network": ["baseline", "proposed"], "accuracy": [0.8085, 0.8159]})
    ax = plot_cross_dataset(published).axes[0]
    assert [bar.get_height() for bars in ax.containers if isinstance(bars, BarContainer)
            for bar in bars] == pytest.approx(
        [80.85, 81.59])
    # The bars are labelled with their values, and the note says that there is no interval.
    assert [text.get_text() for text in ax.texts] == [
        "80.85", "81.59",
        "bars of one value: no interval\nbalanced accuracy: not in the table\n"
        "majority rate: not in the table"]
    assert error_bars(ax) == [] and len(points(ax)) == 0


def bar_heights(ax) -> list[float]:
    return [bar.get_height() for bars in ax.containers if isinstance(bars, BarContainer)
            for bar in bars]


def test_cross_dataset_shows_balanced_accuracy_and_the_majority_rate_below_and_on_the_bars():
    # Emotion-6 as sad vs not sad: 330 sad of 1,980 images, so 1650 / 1980 = 83.3 % not sad.
    # A network that always says "not sad" scores 83.33 % accuracy and 50 % balanced accuracy
    # (recall 1 for "not sad", 0 for "sad"); one that finds 200 of the 330 sad images and
    # calls 500 of the 1,650 others sad scores (200 + 1150) / 1980 = 68.18 % accuracy and
    # (200 / 330 + 1150 / 1650) / 2 = 65.15 % balanced accuracy.
    runs = pd.DataFrame({
        "dataset": ["Emotion-6", "Emotion-6", "test split", "test split"],
        "network": ["constant", "network", "constant", "network"],
        "run_id": ["c", "n", "c", "n"],
        "accuracy": [1650 / 1980, 1350 / 1980, 0.6, 0.8],
        "balanced_accuracy": [0.5, (200 / 330 + 1150 / 1650) / 2, 0.5, 0.75],
        "majority_rate": [1650 / 1980, 1650 / 1980, 0.6, 0.6],
    })
    fig = plot_cross_dataset(runs, dataset_order=["test split", "Emotion-6"],
                             network_order=["constant", "network"])
    top, bottom = fig.axes
    assert top.get_ylabel() == "Test accuracy (%)"
    assert bottom.get_ylabel() == "Balanced accuracy (%)"
    assert [label.get_text() for label in bottom.get_xticklabels()] == ["test split", "Emotion-6"]
    # Bars per network, datasets in order: constant (test, Emotion-6), network (test, Emotion-6).
    assert bar_heights(top) == pytest.approx([60.0, 83.3333, 80.0, 68.1818], abs=1e-4)
    assert bar_heights(bottom) == pytest.approx([50.0, 50.0, 75.0, 65.1515], abs=1e-4)
    # One dashed line per dataset at its majority rate, spanning the dataset's bars.
    lines = drawn_lines(top)
    assert [line.get_linestyle() for line in lines] == ["--", "--"]
    assert [tuple(line.get_ydata()) for line in lines] == [
        pytest.approx((60.0, 60.0)), pytest.approx((83.3333, 83.3333), abs=1e-4)]
    for group, line in enumerate(lines):
        low, high = line.get_xdata()
        group_bars = [bar for bars in top.containers if isinstance(bars, BarContainer)
                      for bar in bars if abs(bar.get_x() + bar.get_width() / 2 - group) < 0.5]
        assert low <= min(bar.get_x() for bar in group_bars)
        assert high >= max(bar.get_x() + bar.get_width() for bar in group_bars)
    assert drawn_lines(bottom) == []
    assert {"60.0", "83.3"} <= {text.get_text() for text in top.texts}
    legend = [text.get_text() for text in top.get_legend().get_texts()]
    assert legend == ["constant", "network", "majority rate"]
    assert mentions(fig, "majority rate (always the largest class)")
    assert not mentions(fig, "not in the table")


def test_a_dataset_without_a_recorded_majority_rate_gets_no_line_and_is_named():
    runs = pd.DataFrame({
        "dataset": ["a", "b"], "network": ["net", "net"], "run_id": ["r", "r"],
        "accuracy": [0.7, 0.8], "balanced_accuracy": [0.6, np.nan],
        "majority_rate": [0.9, np.nan]})
    fig = plot_cross_dataset(runs)
    top, bottom = fig.axes
    assert [tuple(line.get_ydata()) for line in drawn_lines(top)] == [pytest.approx((90, 90))]
    assert bar_heights(bottom) == pytest.approx([60.0])  # no bar for a missing value
    assert mentions(fig, "majority rate unknown for b")
    with pytest.raises(DataError, match="majority_rate"):
        plot_cross_dataset(runs.assign(majority_rate=[90.0, np.nan]))  # percent, not fraction


def test_two_seeds_draw_no_interval_and_the_axis_stays_around_the_data():
    # Two seeds: t(0.975, 1) = 12.7, so a t interval would reach far past both ends of 0-100 %.
    two_seeds = pd.DataFrame({"network": ["a", "a", "b", "b"], "modules": [0, 0, 2, 2],
                              "accuracy": [0.80, 0.57, 0.73, 0.50]})
    ax = plot_accuracy_by_variant(two_seeds).axes[0]
    low, high = ax.get_xlim()
    assert error_bars(ax) == [] and 40 < low < 50 and 80 < high < 90
    ax = plot_accuracy_vs_modules(two_seeds).axes[0]
    low, high = ax.get_ylim()
    assert error_bars(ax) == [] and 40 < low < 50 and 80 < high < 90
    # Points at 100 % do not widen the axis past it.
    full = pd.DataFrame({"network": ["a"] * 2, "accuracy": [1.0, 0.98]})
    assert plot_accuracy_by_variant(full).axes[0].get_xlim()[1] == 100.0
    # With many seeds the axis keeps its close-up range around the data.
    many = pd.DataFrame({"network": ["a"] * 5, "accuracy": [0.811, 0.812, 0.813, 0.814, 0.815]})
    low, high = plot_accuracy_by_variant(many).axes[0].get_xlim()
    assert 75 < low < 81.1 and 81.5 < high < 87


def test_tables_mixing_datasets_or_repeating_a_run_are_refused(runs):
    mixed = pd.concat([runs.assign(dataset="test"), runs.assign(dataset="UnbiasedEmo")])
    with pytest.raises(DataError, match="several evaluation datasets"):
        plot_accuracy_by_variant(mixed)
    repeated = runs.assign(run_id=[f"r{seed}" for seed in runs["seed"]])
    with pytest.raises(DataError, match="appear more than once"):
        plot_accuracy_by_variant(pd.concat([repeated, repeated.head(1)]))
    assert "appear" not in " ".join(figure_texts(plot_accuracy_by_variant(repeated)))
