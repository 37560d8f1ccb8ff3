"""A training run with cross-entropy + lambda * contrastive-center loss: both terms per epoch in
history.csv, the plain network exported."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from thesis_lib.config.training import make_config
from thesis_lib.training import records, run_training

# Whole contrastive-center runs: in the full tier (the loss and its training step are tested
# in tests/models/test_contrastive_training.py and tests/train/test_contrastive_reduction.py).
pytestmark = pytest.mark.slow


def test_a_contrastive_center_run_logs_both_terms_and_exports_the_plain_network(
        tiny_dataset, tiny_values, tmp_path):
    weight = 0.1
    # Batches of 2: every batch of the 10 training and 6 validation images is full, so the
    # epoch means of the terms add up like the batch values do.
    config = make_config("smoke", **tiny_values(
        tiny_dataset, tmp_path / "results", contrastive_center_weight=weight,
        contrastive_center_lr=5.0, batch_size=2))
    run_dir = run_training(config)

    assert records.read_status(run_dir)["state"] == "finished"
    history = pd.read_csv(run_dir / "history.csv")
    for column in ("loss", "accuracy", "cross_entropy_loss", "contrastive_center_loss",
                   "val_loss", "val_accuracy", "val_cross_entropy_loss",
                   "val_contrastive_center_loss"):
        assert column in history.columns, column
    # The logged total is the sum of its terms (the epoch means are means of the batch sums).
    for prefix in ("", "val_"):
        np.testing.assert_allclose(
            history[f"{prefix}loss"], history[f"{prefix}cross_entropy_loss"]
            + weight * history[f"{prefix}contrastive_center_loss"], rtol=1e-4)
    assert (history["contrastive_center_loss"] > 0).all()

    model = keras.saving.load_model(run_dir / "model.keras", compile=False, safe_mode=True)
    assert [layer.name for layer in model.layers if "contrastive" in layer.name] == []
    assert len(model.inputs) == 1 and model.outputs[0].shape[-1] == 2
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0 <= metrics["test_accuracy"] <= 1
    recorded = json.loads((run_dir / "config.json").read_text())["config"]
    assert recorded["contrastive_center_weight"] == pytest.approx(weight)


def test_class_weights_reach_a_contrastive_center_run(tiny_dataset, tiny_values, tmp_path):
    """Keras takes class_weight only for one output: the weights travel in the batches."""
    config = make_config("smoke", **tiny_values(
        tiny_dataset, tmp_path / "results", contrastive_center_weight=0.1, class_weighting=True,
        epochs=1))
    run_dir = run_training(config)
    assert records.read_status(run_dir)["state"] == "finished"
