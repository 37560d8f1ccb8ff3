"""Bands and error bars at small n: only from three seeds, t intervals as scipy computes them,
clipped to the metric's range, and every figure says what it shows."""

import numpy as np
import pandas as pd
import pytest
from figure_artists import all_drawn_values, bands, drawn_lines, error_bars, mentions, points
from scipy import stats

from thesis_lib.figures import (
    plot_accuracy_by_variant,
    plot_accuracy_vs_modules,
    plot_cross_dataset,
    plot_learning_curves,
    plot_per_class_metric,
    plot_roc_pr_curves,
)
from thesis_lib.figures.intervals import (
    FEW_RUNS_LABEL,
    curve_band,
    interval_label,
    mean_interval,
)

SEED_COUNTS = [1, 2, 3, 5]
INTERVAL = interval_label(0.95)


def clipped_t_interval(values, low=-np.inf, high=np.inf):
    values = np.asarray(values, dtype=float)
    lower, upper = stats.t.interval(0.95, len(values) - 1, loc=values.mean(),
                                    scale=stats.sem(values))
    return max(lower, low), min(upper, high)


def accuracies(n: int, centre: float, spread: float, seed: int = 0) -> np.ndarray:
    """``n`` accuracies (fractions) around ``centre``, inside [0, 1]."""
    rng = np.random.default_rng(seed)
    return np.clip(centre + spread * rng.standard_normal(n), 0.0, 1.0)


# Accuracies of five seeds near 100 % and near 0 %: from three seeds on, the t interval of
# their mean reaches past the end of the range.
NEAR_FULL = np.array([1.0, 0.99, 0.995, 0.985, 1.0])
NEAR_ZERO = 1.0 - NEAR_FULL


def runs_table(n: int, centres=(0.80, "full", "zero")) -> pd.DataFrame:
    """Networks with ``n`` runs each: ordinary (a centre), near 100 % and near 0 %."""
    rows = []
    for index, centre in enumerate(centres):
        values = {"full": NEAR_FULL[:n], "zero": NEAR_ZERO[:n]}.get(centre)
        if values is None:
            values = accuracies(n, centre, 0.01, seed=index)
        for seed, value in enumerate(values):
            rows.append({"network": f"net{index}", "modules": 2 * index, "seed": seed,
                         "run_id": f"net{index}-s{seed}", "accuracy": value})
    return pd.DataFrame(rows)


def test_mean_interval_equals_scipy_and_is_clipped_to_the_range():
    values = [99.2, 99.9, 100.0, 99.7]
    summary = mean_interval(values, 0.95, (0.0, 100.0))
    assert (summary.low, summary.high) == pytest.approx(clipped_t_interval(values, 0, 100))
    assert summary.high == 100.0 and summary.clipped
    two = mean_interval([0.80, 0.57])
    assert not two.has_interval and np.isnan(two.low) and two.mean == pytest.approx(0.685)


def test_curve_band_is_pointwise_t_and_absent_where_fewer_than_three_runs():
    curves = np.array([[0.01, 0.5, 0.9], [0.2, 0.4, np.nan], [0.02, 0.6, np.nan],
                       [0.015, 0.55, np.nan]])
    band = curve_band(curves, 0.95, (0.0, np.inf))
    assert list(band.counts) == [4, 4, 1]
    assert band.low[0] == pytest.approx(max(0.0, clipped_t_interval(curves[:, 0])[0]))
    assert band.high[1] == pytest.approx(clipped_t_interval(curves[:, 1])[1])
    assert np.isnan(band.low[2]) and band.mean[2] == pytest.approx(0.9)
    assert band.low[0] == 0.0 and band.clipped


@pytest.mark.parametrize("n", SEED_COUNTS)
def test_accuracy_by_network_error_bars_from_three_seeds_within_0_and_100(n):
    runs = runs_table(n)
    fig = plot_accuracy_by_variant(runs)
    ax = fig.axes[0]
    values = all_drawn_values(ax, axis=0)
    assert values.min() >= 0.0 and values.max() <= 100.0
    assert np.allclose(np.sort(points(ax)[:, 0]), np.sort(runs["accuracy"] * 100))
    bars = error_bars(ax)
    if n < 3:
        assert bars == [] and mentions(fig, FEW_RUNS_LABEL) and not mentions(fig, INTERVAL)
        return
    assert len(bars) == 3 and mentions(fig, INTERVAL) and not mentions(fig, FEW_RUNS_LABEL)
    for row, segment in enumerate(bars):
        values = runs.loc[runs["network"] == f"net{row}", "accuracy"] * 100
        assert sorted(segment[:, 0]) == pytest.approx(clipped_t_interval(values, 0, 100))
    # The networks at 99.5 % and 0.4 % reach past the range and are clipped to it.
    assert max(bars[1][:, 0]) == 100.0 and min(bars[2][:, 0]) == 0.0
    assert mentions(fig, "clipped to 0-100 %")


@pytest.mark.parametrize("n", SEED_COUNTS)
def test_accuracy_vs_modules_error_bars_follow_the_same_rule(n):
    runs = runs_table(n)
    fig = plot_accuracy_vs_modules(runs)
    ax = fig.axes[0]
    values = all_drawn_values(ax, axis=1)
    assert values.min() >= 0.0 and values.max() <= 100.0
    assert ax.get_ylim()[0] >= 0.0 and ax.get_ylim()[1] <= 100.0
    bars = error_bars(ax)
    assert mentions(fig, FEW_RUNS_LABEL) == (n < 3) and mentions(fig, INTERVAL) == (n >= 3)
    if n >= 3:
        near_full = runs.loc[runs["modules"] == 2, "accuracy"] * 100
        assert sorted(bars[1][:, 1]) == pytest.approx(clipped_t_interval(near_full, 0, 100))
    else:
        assert bars == []


def test_a_network_with_few_seeds_beside_one_with_many_is_shown_both_ways():
    runs = pd.concat([runs_table(5, centres=(0.80,)),
                      runs_table(2, centres=(0.70,)).replace({"network": {"net0": "few"}})])
    fig = plot_accuracy_by_variant(runs)
    assert len(error_bars(fig.axes[0])) == 1
    assert mentions(fig, FEW_RUNS_LABEL) and mentions(fig, INTERVAL)


@pytest.mark.parametrize("n", SEED_COUNTS)
def test_cross_dataset_bars_show_seeds_below_three_and_clipped_t_from_three(n):
    rows = []
    for dataset in ("test split", "easy"):
        for network in ("baseline", "proposed"):
            values = NEAR_FULL[:n] if dataset == "easy" else accuracies(n, 0.8, 0.01, len(rows))
            for seed, value in enumerate(values):
                rows.append({"dataset": dataset, "network": network, "run_id": f"{network}{seed}",
                             "accuracy": value})
    runs = pd.DataFrame(rows)
    fig = plot_cross_dataset(runs)
    ax = fig.axes[0]
    assert all_drawn_values(ax, axis=1).max() <= 100.0
    bars = error_bars(ax)
    if n >= 3:
        assert len(bars) == 4 and points(ax).shape[0] == 0
        easy = runs[(runs.dataset == "easy") & (runs.network == "proposed")]["accuracy"] * 100
        assert any(sorted(bar[:, 1]) == pytest.approx(clipped_t_interval(easy, 0, 100))
                   for bar in bars)
        assert max(bar[:, 1].max() for bar in bars) == 100.0
        assert mentions(fig, "error bars: " + INTERVAL) and mentions(fig, "clipped to 0-100 %")
    else:
        assert bars == []
        # Two seeds: each is a point on its bar; one seed: the bar is the value itself.
        assert points(ax).shape[0] == (4 * n if n == 2 else 0)
        assert mentions(fig, "no interval")


# Last-epoch losses of five seeds: close to 0, so that the t band reaches below 0.
LAST_LOSSES = np.array([0.001, 0.05, 0.002, 0.04, 0.001])


def history(n: int, epochs: int = 5) -> pd.DataFrame:
    """Loss close to 0 and accuracy close to 100 % late in training: bands reach past both."""
    rng = np.random.default_rng(n)
    rows = []
    for network in ("baseline", "gram"):
        for seed in range(n):
            for epoch in range(epochs):
                loss = 0.5 / (epoch + 1) ** 2 + 0.02 * rng.random()
                accuracy = 0.7 + 0.05 * epoch + 0.01 * rng.standard_normal()
                if epoch == epochs - 1:
                    loss, accuracy = LAST_LOSSES[seed], NEAR_FULL[seed]
                rows.append({"network": network, "run_id": f"{network}{seed}", "epoch": epoch,
                             "loss": loss, "val_loss": loss * 1.1, "accuracy": accuracy,
                             "val_accuracy": min(1.0, accuracy + 0.005)})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("n", SEED_COUNTS)
def test_learning_curve_bands_stay_in_range_and_need_three_seeds(n):
    table = history(n)
    fig = plot_learning_curves(table)
    loss_ax, accuracy_ax = fig.axes
    assert all_drawn_values(loss_ax, axis=1).min() >= 0.0
    drawn = all_drawn_values(accuracy_ax, axis=1)
    assert drawn.min() >= 0.0 and drawn.max() <= 100.0
    if n < 3:
        assert bands(loss_ax) == [] and bands(accuracy_ax) == []
        # Each seed is a thin line: 2 networks x 2 splits x n seeds.
        assert len(drawn_lines(loss_ax)) == 4 * n
        assert mentions(fig, FEW_RUNS_LABEL)
        return
    assert len(bands(loss_ax)) == 4 and mentions(fig, "band: mean ± 95 % t CI (n ≥ 3 seeds)")
    # The baseline's training-loss band spans scipy's t interval at every epoch, clipped at 0.
    vertices = bands(loss_ax)[0]
    runs = table[table.network == "baseline"].pivot(index="run_id", columns="epoch",
                                                    values="loss")
    for epoch in runs.columns:
        low, high = clipped_t_interval(runs[epoch], low=0.0)
        at_epoch = vertices[np.isclose(vertices[:, 0], epoch), 1]
        assert at_epoch.min() == pytest.approx(low) and at_epoch.max() == pytest.approx(high)
    assert vertices[:, 1].min() == 0.0
    accuracy_top = max(vertices[:, 1].max() for vertices in bands(accuracy_ax))
    assert accuracy_top == 100.0 and mentions(fig, "clipped")


def test_epochs_that_fewer_than_three_runs_reached_are_drawn_run_by_run():
    table = history(3, epochs=6)
    # One run stopped early: the last two epochs have two runs only.
    table = table[~((table.run_id == "gram0") & (table.epoch >= 4))]
    fig = plot_learning_curves(table)
    loss_ax = fig.axes[0]
    gram_band = bands(loss_ax)[2]
    assert gram_band[:, 0].max() == 3
    thin = [line for line in drawn_lines(loss_ax) if line.get_linewidth() < 1]
    assert thin and all(np.isnan(np.asarray(line.get_ydata(), float)[:3]).all() for line in thin)
    assert mentions(fig, FEW_RUNS_LABEL)


def predictions(n: int) -> pd.DataFrame:
    """A nearly perfect binary classifier per network and run: the TPR band reaches past 1."""
    rng = np.random.default_rng(7)
    frames = []
    for network, separation in (("baseline", 2.5), ("gram", 4.0)):
        for run in range(n):
            labels = rng.integers(0, 2, 300)
            logits = (2 * labels - 1) * separation + rng.standard_normal(300)
            frames.append(pd.DataFrame({"network": network, "run_id": f"{network}{run}",
                                        "label_index": labels,
                                        "score": 1 / (1 + np.exp(-logits))}))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("n", SEED_COUNTS)
def test_roc_and_pr_bands_are_t_intervals_within_0_and_1(n):
    fig = plot_roc_pr_curves(predictions(n))
    for ax in fig.axes:
        values = all_drawn_values(ax, axis=1)
        assert values.min() >= 0.0 and values.max() <= 1.0
        if n < 3:
            assert bands(ax) == []
            # Each run's curve, per network, besides the chance line.
            assert len(drawn_lines(ax)) == 2 * n + 1
        else:
            assert len(bands(ax)) == 2
            assert max(vertices[:, 1].max() for vertices in bands(ax)) == pytest.approx(1.0)
    assert mentions(fig, FEW_RUNS_LABEL) == (n < 3)
    assert mentions(fig, "band: mean ± 95 % t CI (n ≥ 3 seeds)") == (n >= 3)


@pytest.mark.parametrize("n", SEED_COUNTS)
def test_per_class_f1_error_bars_within_0_and_1(n):
    rows = []
    for network in ("baseline", "gram"):
        for seed in range(n):
            rows.append({"network": network, "run_id": f"{network}{seed}",
                         "f1_awe": accuracies(1, 0.998, 0.003, seed=seed)[0],
                         "f1_sadness": accuracies(1, 0.6, 0.05, seed=seed + 10)[0]})
    runs = pd.DataFrame(rows)
    fig = plot_per_class_metric(runs)
    ax = fig.axes[0]
    values = all_drawn_values(ax, axis=1)
    assert values.min() >= 0.0 and values.max() <= 1.0
    bars = error_bars(ax)
    if n < 3:
        assert bars == [] and len(points(ax)) == 4 * n and mentions(fig, FEW_RUNS_LABEL)
    else:
        assert len(bars) == 4 and mentions(fig, INTERVAL)
        awe = runs.loc[runs.network == "baseline", "f1_awe"]
        assert sorted(bars[0][:, 1]) == pytest.approx(clipped_t_interval(awe, 0, 1))
