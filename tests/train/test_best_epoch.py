"""The test metrics and model.keras come from the epoch that was best on validation, not from
the last one.

The run is steered so that its best epoch is known in advance: at the start of each epoch a
callback sets the classifier to predict one class for every image (a zero kernel, a bias of
+-8) and the learning rate is so small that training cannot move it. Epoch 0 predicts the
class that is the majority of the validation split, epoch 1 the other one, so validation
accuracy peaks at epoch 0 and the last epoch's weights predict the opposite class.
"""

import json
import shutil

import keras
import numpy as np
import pandas as pd
import pytest

from thesis_lib.config.training import make_config
from thesis_lib.training import callbacks, run_training
from thesis_lib.training.evaluate import predict
from thesis_lib.training.run import plan_run

CLASSES = ["not_sadness", "sadness"]  # the sadness scheme: "other" is class 0


@pytest.fixture(scope="module")
def unbalanced_dataset(tiny_dataset, tmp_path_factory):
    """10 sadness and 4 other images: every split has a majority class."""
    root = tmp_path_factory.mktemp("unbalanced") / "demo"
    shutil.copytree(tiny_dataset / "sadness", root / "sadness")
    (root / "other").mkdir()
    for path in sorted((tiny_dataset / "other").glob("*.jpg"))[:4]:
        shutil.copy(path, root / "other" / path.name)
    return root


def split_labels(run_dir, split: str) -> np.ndarray:
    table = pd.read_csv(run_dir / "split.csv")
    labels = table.loc[table["split"] == split, "label"]
    return np.array([CLASSES.index(label) for label in labels])


@pytest.mark.slow  # a whole training path; the fast tier tests its parts
def test_metrics_and_model_come_from_the_best_validation_epoch(
        unbalanced_dataset, tiny_values, tmp_path, monkeypatch):
    config = make_config("smoke", **tiny_values(
        unbalanced_dataset, tmp_path / "results", epochs=2, learning_rate=1e-9,
        lr_schedule="constant", epoch_delay_s=1e-6))
    run_dir = plan_run(config).run_dir
    last_weights = []

    class ForcedPrediction(keras.callbacks.Callback):
        """Stands in for the run's EpochDelay callback (``epoch_delay_s`` above)."""

        def __init__(self, seconds):
            super().__init__()

        def on_epoch_begin(self, epoch, logs=None):
            majority = int(np.bincount(split_labels(run_dir, "val"), minlength=2).argmax())
            predicted = majority if epoch == 0 else 1 - majority
            classifier = self.model.get_layer("classifier")
            classifier.kernel.assign(np.zeros(classifier.kernel.shape, "float32"))
            classifier.bias.assign(np.where(np.arange(2) == predicted, 8.0, -8.0))

        def on_train_end(self, logs=None):
            last_weights.append(self.model.get_weights())

    monkeypatch.setattr(callbacks, "EpochDelay", ForcedPrediction)
    assert run_training(config) == run_dir

    val = split_labels(run_dir, "val")
    assert np.bincount(val, minlength=2).max() > len(val) / 2  # no tie on validation
    history = pd.read_csv(run_dir / "history.csv")
    assert history["val_accuracy"].iloc[0] > history["val_accuracy"].iloc[1]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["best_epoch"] == 0

    # The best epoch's network predicts the validation majority for every test image.
    test = split_labels(run_dir, "test")
    majority = int(np.bincount(val, minlength=2).argmax())
    predictions = pd.read_csv(run_dir / "predictions.csv")
    assert (predictions["predicted_index"] == majority).all(), \
        "predictions.csv does not come from the best validation epoch"
    assert metrics["test_accuracy"] == pytest.approx(np.mean(test == majority))
    # model.keras is that network: its predictions on the test split reproduce the record.
    model = keras.models.load_model(run_dir / "model.keras", compile=False)
    probabilities = predictions[[f"prob_{name}" for name in CLASSES]].to_numpy()
    options = dict(num_classes=2, image_size=32, batch_size=4)
    np.testing.assert_allclose(predict(model, predictions, **options), probabilities, atol=1e-6,
                               err_msg="model.keras does not reproduce predictions.csv")
    # ...and not the last epoch's weights, which predict the other class.
    model.set_weights(last_weights[0])
    last = predict(model, predictions, **options)
    assert (last.argmax(axis=1) == 1 - majority).all()
