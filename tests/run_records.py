"""Run folders written as the training code writes them, with known numbers, for the tests of
results, comparisons and tables."""

import json

import numpy as np

CLASSES = ["not_sadness", "sadness"]


def write_run(results_dir, run_id, *, variant="gram", modules=4, seed=0, accuracy=0.8,
              state="finished", extra_datasets=None, nested=True, taps=None,
              predictions=None, activation="relu", epochs=30, dataset="webemo_sad", **fields):
    """A run folder as the training code writes it (nested ``config`` section by default);
    ``fields`` are further configuration fields (e.g. ``contrastive_center_weight``)."""
    run_dir = results_dir / "runs" / run_id
    run_dir.mkdir(parents=True)
    config = {"variant": variant, "modules": modules, "backbone": "EfficientNetV2B2",
              "seed": seed, "taps": taps, "activation": activation, "image_size": 256,
              "epochs": epochs, "dataset_name": dataset, **fields}
    if nested:
        config = {"config": config, "environment": {"python": "3.11", "seed_note": "x"}}
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "status.json").write_text(json.dumps({"state": state, "pid": 1}))
    if state == "finished":
        metrics = {
            "n_test": 200, "test_accuracy": accuracy, "balanced_accuracy": accuracy - 0.01,
            "macro_f1": accuracy - 0.02, "roc_auc": None,
            "per_class": {name: {"precision": 0.7, "recall": 0.9, "support": 100}
                          for name in CLASSES},
            "confusion_matrix": [[90, 10], [30, 70]], "class_names": CLASSES,
            "best_epoch": 7, "datasets": extra_datasets or {},
        }
        (run_dir / "metrics.json").write_text(json.dumps(metrics))
    if predictions is not None:
        predictions.to_csv(run_dir / "predictions.csv", index=False)
    return run_dir


def accuracies_with(mean, sd, n=5):
    """n values whose mean and sample SD are exactly ``mean`` and ``sd``."""
    z = np.linspace(-1, 1, n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + sd * z
