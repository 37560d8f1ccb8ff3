"""The reduction of the contrastive-center term over the batch: "mean" (default) or "sum" (Qi &
Su's convention). Converted lambdas give the same training step; records written before the
field existed keep their run and setting ids."""

import json

import keras
import numpy as np
import pytest
from run_records import write_run
from tiny_networks import tiny_network

from thesis_lib.analysis import results
from thesis_lib.config.training import (
    CONTRASTIVE_CENTER_REDUCTIONS,
    TrainConfig,
    config_from_dict,
    make_config,
)
from thesis_lib.errors import ConfigError
from thesis_lib.experiments.grids import Grid
from thesis_lib.layers.losses import REDUCTIONS
from thesis_lib.models import with_contrastive_center
from thesis_lib.training.fingerprint import DataFingerprint
from thesis_lib.training.run import write_config

BATCH = 8


def batch(classes: int = 3):
    images = np.random.default_rng(1).uniform(0, 255, (BATCH, 8, 8, 3)).astype("float32")
    labels = keras.utils.to_categorical(np.arange(BATCH) % classes, classes)
    return images, labels


def one_step(weight: float, reduction: str):
    """Weights (network and centers) after one SGD step, and the logged terms of that batch."""
    training = with_contrastive_center(tiny_network(dropout=0.0), weight=weight, center_lr=2.0,
                                       reduction=reduction)
    training.model.compile(optimizer=keras.optimizers.SGD(0.5), **training.compile_arguments())
    x, y = training.batch(*batch())
    logs = training.model.train_on_batch(x, y, return_dict=True)
    return [np.asarray(w) for w in training.model.weights], logs


def test_sum_with_lambda_over_batch_size_is_the_same_step_as_mean():
    lambda_mean = 0.4
    mean_weights, mean_logs = one_step(lambda_mean, "mean")
    sum_weights, sum_logs = one_step(lambda_mean / BATCH, "sum")
    for after_mean, after_sum in zip(mean_weights, sum_weights, strict=True):
        np.testing.assert_allclose(after_sum, after_mean, rtol=1e-5, atol=1e-7)
    # The logged term is the batch's sum, B times its mean; the totals agree.
    assert sum_logs["contrastive_center_loss"] == pytest.approx(
        BATCH * mean_logs["contrastive_center_loss"], rel=1e-5)
    assert sum_logs["loss"] == pytest.approx(mean_logs["loss"], rel=1e-5)
    # The comparison can fail: the same lambda under both reductions is another step.
    unconverted, _ = one_step(lambda_mean, "sum")
    assert any(not np.allclose(a, b, rtol=1e-5, atol=1e-7)
               for a, b in zip(unconverted, mean_weights, strict=True))


def test_the_logged_sum_is_the_papers_sum_over_the_batch():
    training = with_contrastive_center(tiny_network(dropout=0.0), weight=0.1, reduction="sum")
    training.model.compile(optimizer="sgd", **training.compile_arguments())
    rng = np.random.default_rng(2)
    centers = rng.normal(size=(3, 4)).astype("float32")
    training.layer.centers.assign(centers)
    images, labels = batch()
    logs = training.model.evaluate(*training.batch(images, labels), batch_size=BATCH, verbose=0,
                                   return_dict=True)
    embedding = keras.Model(training.inference_model.inputs[0],
                            training.inference_model.get_layer("dropout").input)
    x = np.asarray(embedding(images, training=False), "float64")
    squared = ((x[:, None, :] - centers[None].astype("float64")) ** 2).sum(-1)
    own = labels.astype(bool)
    expected = np.sum(0.5 * squared[own] / (squared[~own].reshape(BATCH, 2).sum(-1) + 1.0))
    assert logs["contrastive_center_loss"] == pytest.approx(expected, rel=1e-4)


def test_a_bad_reduction_is_one_line_naming_the_field():
    assert CONTRASTIVE_CENTER_REDUCTIONS == REDUCTIONS  # the configuration's list is the loss's
    with pytest.raises(ConfigError, match="^unknown contrastive_center_reduction 'total'; "
                                          "valid: mean, sum$"):
        make_config("smoke", contrastive_center_weight=0.1, contrastive_center_reduction="total")
    with pytest.raises(ConfigError, match="contrastive_center_reduction: expected text"):
        make_config("smoke", contrastive_center_reduction=["sum"])
    with pytest.raises(ConfigError, match="reduction must be one of mean, sum, got 'Sum'"):
        with_contrastive_center(tiny_network(dropout=0.0), weight=0.1, reduction="Sum")


def test_the_reduction_comes_from_text_and_without_the_loss_is_mean():
    config = make_config("dissertation", contrastive_center_reduction="sum")
    assert config.contrastive_center_reduction == "sum"
    assert make_config("dissertation").contrastive_center_reduction == "mean"
    # Cross-entropy alone: the reduction changes nothing, so it is one run.
    plain = make_config("smoke", contrastive_center_reduction="sum")
    assert plain.contrastive_center_reduction == "mean"
    assert plain.run_id("d") == make_config("smoke").run_id("d")
    assert config.run_id("d") != make_config("dissertation").run_id("d")
    assert config.setting_id("d") != make_config("dissertation").setting_id("d")


# Ids of the default configuration computed before the field existed: a record of that time
# must find its run again, and a new run with the default reduction must get the same ids.
IDS_BEFORE_THE_FIELD = {"run_id": "gram-m4-v2b2-s0-a0eb465f", "setting_id": "b5b3ff41bc57"}


def test_the_default_reduction_keeps_the_ids_of_runs_recorded_before_it():
    config = TrainConfig()
    assert {"run_id": config.run_id("fp-1"), "setting_id": config.setting_id("fp-1")} \
        == IDS_BEFORE_THE_FIELD
    assert "contrastive_center_reduction" not in config.identity("fp-1")
    summed = TrainConfig(contrastive_center_weight=0.1, contrastive_center_reduction="sum")
    assert summed.identity("fp-1")["contrastive_center_reduction"] == "sum"


def finished_record(results_dir, run_id, config: TrainConfig, *, drop_field=False):
    """A finished run folder whose config.json is the one training writes (optionally as a
    record of the time before the field: without it)."""
    run_dir = write_run(results_dir, run_id)
    fingerprint = DataFingerprint(value="fp-1", dataset="m", images=10, split_file=None)
    write_config(run_dir, config, fingerprint)
    if drop_field:
        record = json.loads((run_dir / "config.json").read_text())
        del record["config"]["contrastive_center_reduction"]
        (run_dir / "config.json").write_text(json.dumps(record))
    return run_dir


def test_records_without_the_field_read_as_mean_and_share_the_setting(tmp_path):
    loss = {"contrastive_center_weight": 0.1}
    new = finished_record(tmp_path, "new", TrainConfig(**loss))
    old = finished_record(tmp_path, "old", TrainConfig(**loss), drop_field=True)
    summed = finished_record(tmp_path, "summed",
                             TrainConfig(**loss, contrastive_center_reduction="sum"))
    record = json.loads((new / "config.json").read_text())
    assert record["config"]["contrastive_center_reduction"] == "mean"  # the record names it
    old_record = json.loads((old / "config.json").read_text())
    assert config_from_dict(old_record["config"]).contrastive_center_reduction == "mean"
    assert config_from_dict(old_record["config"]).run_id("fp-1") == record["config_run_id"]

    table = results.collect_runs(tmp_path).drop_duplicates("run_id").set_index("run_id")
    ids = table["setting_id"].to_dict()
    assert ids["old"] == ids["new"] == record["setting_id"]  # as training computed it
    assert ids["summed"] != ids["new"]
    assert ids["summed"] == json.loads((summed / "config.json").read_text())["setting_id"]


def test_grids_and_profiles_set_the_reduction(tmp_path):
    grid = Grid(axes={"contrastive_center_reduction": ["mean", "sum"]},
                fixed={"contrastive_center_weight": "0.003125"}, profile="dissertation")
    configs = [make_config(cell.pop("profile"), **cell) for cell in grid.cells()]
    assert [c.contrastive_center_reduction for c in configs] == ["mean", "sum"]
    assert configs[0].run_id("d") != configs[1].run_id("d")
    profile = tmp_path / "papers_lambda.yaml"
    profile.write_text("profile: dissertation\ncontrastive_center_reduction: sum\n"
                       "contrastive_center_weight: 0.003125\n")
    assert make_config(profile) == configs[1]
