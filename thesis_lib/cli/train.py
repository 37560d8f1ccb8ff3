"""``thesis train`` and ``thesis evaluate`` (grids of runs: ``thesis_lib.cli.grid``).

    thesis train -f smoke --modules 2 --epochs 3
    thesis train -f thesis --data-dir /data/webemo_sad --seed 1 --set label_smoothing=0.1
    thesis evaluate results/runs/<run_id> /data/unbiasedemo --name unbiasedemo
"""

from __future__ import annotations

import argparse

# Common fields with their own flags; every other field is set with --set NAME=VALUE.
FIELD_FLAGS = {
    "data_dir": str, "variant": str, "modules": int, "backbone": str, "image_size": int,
    "epochs": int, "batch_size": int, "seed": int, "results_dir": str, "weights": str,
}


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser("train", help="train one network and write its run record")
    train.add_argument("-f", "--profile", default="thesis",
                       help="profile name (smoke, thesis) or YAML path; default thesis")
    for name, kind in FIELD_FLAGS.items():
        train.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=None)
    train.add_argument("--set", dest="assignments", action="append", default=[],
                       metavar="NAME=VALUE", help="any other configuration field (YAML value)")
    train.add_argument("--force", action="store_true",
                       help="train again although a finished run exists (into a new folder)")
    train.set_defaults(func=train_command)

    evaluate = subparsers.add_parser("evaluate",
                                     help="evaluate a finished run on another dataset")
    evaluate.add_argument("run_dir", help="the run folder (results/runs/<run_id>)")
    evaluate.add_argument("dataset", help="dataset folder or manifest")
    evaluate.add_argument("--name", required=True, help="the dataset's name in the record")
    evaluate.add_argument("--adapter", default="auto")
    evaluate.add_argument("--scheme", default=None, help="label scheme (default: the run's)")
    evaluate.set_defaults(func=evaluate_command)


def train_command(args: argparse.Namespace) -> int:
    from thesis_lib.config.conversion import parse_assignments
    from thesis_lib.training import make_config, run_training

    overrides = {name: getattr(args, name) for name in FIELD_FLAGS}
    overrides.update(parse_assignments(args.assignments))
    config = make_config(args.profile, **overrides)
    run_dir = run_training(config, force=args.force)
    print(run_dir)
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    from thesis_lib.training import evaluate_run

    result = evaluate_run(args.run_dir, args.dataset, name=args.name, adapter=args.adapter,
                          scheme=args.scheme)
    print(f"{args.name}: accuracy {result['accuracy']:.4f}, balanced accuracy "
          f"{result['balanced_accuracy']:.4f}, macro F1 {result['macro_f1']:.4f} "
          f"(n={result['n']})")
    return 0
