"""Training runs: configuration, run record, resume, evaluation.

    TrainConfig, make_config, load_profile   the configuration and its YAML profiles
    run_training(config, force=False)        train (or resume / skip) one run -> run folder
    evaluate_run(run_dir, source, name=...)  evaluate a finished run on another dataset
    compute_metrics(labels, probs, names)    the metrics of ``metrics.json``
"""

from thesis_lib.config.training import TrainConfig, load_profile, make_config
from thesis_lib.training.evaluate import compute_metrics, evaluate_run
from thesis_lib.training.records import read_status
from thesis_lib.training.run import check_config, history, plan_run, run_training

__all__ = [
    "TrainConfig",
    "check_config",
    "compute_metrics",
    "evaluate_run",
    "history",
    "load_profile",
    "make_config",
    "plan_run",
    "read_status",
    "run_training",
]
