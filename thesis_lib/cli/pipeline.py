"""``thesis pipeline`` and ``thesis demo``: notebooks 01-07 headlessly for a profile."""

from __future__ import annotations

import argparse
import time

from thesis_lib.config.conversion import parse_assignments
from thesis_lib.errors import ConfigError
from thesis_lib.experiments import pipeline as pipeline_module
from thesis_lib.experiments.pipeline import NOTEBOOKS, report_outputs, run_pipeline


def register(subparsers: argparse._SubParsersAction) -> None:
    pipeline = subparsers.add_parser(
        "pipeline", help="run notebooks 01-07 headlessly (papermill) for a profile",
        description=pipeline_module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pipeline.add_argument("--profile", default="thesis",
                          help="training profile: thesis, demo, smoke or a YAML path "
                               "(default: thesis)")
    pipeline.add_argument("--executor", choices=["local", "slurm"], default="local",
                          help="where notebook 04 trains its grid: here, or as one SLURM array "
                               "job (results and environment on a shared filesystem)")
    pipeline.add_argument("--slurm", action="append", default=[], metavar="NAME=VALUE",
                          help="SLURM request of 04's cells over the profile's defaults, e.g. "
                               "slurm_partition=gpu, mem_gb=48, timeout_min=1440")
    _add_common_options(pipeline)
    pipeline.set_defaults(func=pipeline_command)

    demo = subparsers.add_parser(
        "demo", help="the whole pipeline on the generated demo data (make demo)",
        description="Notebooks 01-07 with the demo profile on the generated demo data; "
                    "results in results/demo/.",
    )
    _add_common_options(demo)
    demo.set_defaults(func=pipeline_command, profile="demo", executor="local", slurm=[])


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None,
                        help="dataset folder or manifest (default: the generated demo data)")
    parser.add_argument("--results-dir", default=None,
                        help="where everything goes (default: results/<profile>)")
    parser.add_argument("--jobs", type=int, default=2, help="training runs at a time (2)")
    parser.add_argument("--notebooks", nargs="+", default=list(NOTEBOOKS), metavar="NAME",
                        help="run only these notebooks, e.g. 05_significance 06_figures")


def pipeline_command(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {args.jobs}")
    started = time.monotonic()
    results = run_pipeline(args.profile, data_dir=args.data_dir, results_dir=args.results_dir,
                           jobs=args.jobs, notebooks=tuple(args.notebooks),
                           executor=args.executor, slurm=parse_assignments(args.slurm))
    minutes = (time.monotonic() - started) / 60
    print(f"\npipeline ({args.profile}) finished in {minutes:.1f} min")
    print(report_outputs(results))
    return 0
