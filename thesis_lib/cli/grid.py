"""``thesis grid``: a grid of training runs, here or on a SLURM cluster.

    thesis grid configs/grids/contrastive_center_sweep.yaml --executor slurm --slurm gpus_per_node=1
    thesis grid GRID.yaml --jobs 2
    thesis grid GRID.yaml --status
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    grid = subparsers.add_parser("grid", help="run a grid of training runs (notebook per cell)")
    grid.add_argument("grid_file", help="grid YAML (profile, fixed, grid)")
    grid.add_argument("--executor", choices=["local", "slurm", "submitit-local"],
                      default="local")
    grid.add_argument("--jobs", type=int, default=1, help="cells at a time (local executor)")
    grid.add_argument("--slurm", action="append", default=[], metavar="NAME=VALUE",
                      help="submitit parameter, e.g. slurm_partition=gpu, gpus_per_node=1, "
                           "timeout_min=720")
    grid.add_argument("--force", action="store_true", help="train finished cells again")
    grid.add_argument("--status", action="store_true",
                      help="only show the state of every cell as found on disk")
    grid.set_defaults(func=grid_command)


def grid_command(args: argparse.Namespace) -> int:
    import pandas as pd

    from thesis_lib.config.conversion import parse_assignments
    from thesis_lib.experiments.grids import load_grid, run_grid, summary

    grid = load_grid(args.grid_file)
    if args.status:
        table = summary(grid)
    else:
        table = run_grid(grid, executor=args.executor, jobs=args.jobs, force=args.force,
                         slurm=parse_assignments(args.slurm))
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        print(table.drop(columns=["run_dir"]).to_string(index=False))
    # Exit status 2, as for any other error in what was given; the table says which cells.
    return 2 if (table["state"] == "failed").any() else 0
