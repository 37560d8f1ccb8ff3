"""The whole study, headless: notebooks 01 -> 06 executed with papermill into one folder.

``thesis pipeline --profile thesis --data-dir /data/webemo_sad`` explores and splits the data,
trains the networks of the thesis' studies, tests them for significance and draws the figures
and tables; ``thesis demo`` (``make demo``) does the same on the generated demo data with the
small ``demo`` profile. The executed notebooks are kept in ``<results>/notebooks/`` beside what
they made; the committed notebooks are never modified. Running the pipeline again skips the
training runs that have finished.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from thesis_lib import paths
from thesis_lib.errors import ConfigError, ThesisError

NOTEBOOKS = (
    "01_data_exploration",
    "02_prepare_data",
    "03_train",
    "04_ablations",
    "05_significance",
    "06_figures",
)
# The study whose significance tests and figures the pipeline reports.
REPORTED_STUDY = "comparison"


def notebook_parameters(name: str, *, profile: str, data_dir: str | None, results_dir: Path,
                        jobs: int) -> dict[str, Any]:
    """The papermill parameters of one pipeline notebook."""
    data = {"data_dir": data_dir} if data_dir else {}
    results = {"results_dir": str(results_dir)}
    by_notebook = {
        "01_data_exploration": {**data},
        "02_prepare_data": {**data, **results},
        "03_train": {"profile": profile, **data, **results},
        "04_ablations": {"profile": profile, **data, **results, "jobs": jobs},
        "05_significance": {**results, "study": REPORTED_STUDY},
        "06_figures": {**results, "study": REPORTED_STUDY},
    }
    return by_notebook[name]


def run_pipeline(profile: str = "demo", *, data_dir: str | None = None,
                 results_dir: str | os.PathLike | None = None, jobs: int = 1,
                 notebooks: tuple[str, ...] = NOTEBOOKS) -> Path:
    """Execute ``notebooks`` in order; returns the results folder.

    Args:
        profile: the training profile (``demo``, ``thesis``, ``smoke`` or a YAML path); it
            also sets the scale of the studies (see ``thesis_lib.studies.STUDY_SCALES``).
        data_dir: the dataset; ``None`` means the generated demo dataset.
        results_dir: where everything goes; default ``results/<profile>``.
        jobs: training runs at a time.
        notebooks: which notebooks to run (names without ``.ipynb``).

    Raises:
        ThesisError: a notebook failed; the message names it, the error and the executed
            notebook that shows where.
    """
    import papermill

    unknown = [name for name in notebooks if name not in NOTEBOOKS]
    if unknown:
        raise ConfigError(f"unknown notebook(s) {', '.join(unknown)}; valid: "
                          f"{', '.join(NOTEBOOKS)}")
    if data_dir is not None and not paths.resolve(data_dir).exists():
        raise ConfigError(f"dataset not found: {paths.resolve(data_dir)}")
    # The notebook kernels inherit this: TensorFlow's C++ start-up logs would bury the progress.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    root = paths.project_root()
    results = paths.resolve(results_dir or Path("results") / Path(str(profile)).stem)
    executed = results / "notebooks"
    executed.mkdir(parents=True, exist_ok=True)
    data = str(paths.resolve(data_dir)) if data_dir is not None else None
    for name in notebooks:
        started = time.monotonic()
        print(f"{name} ...", flush=True)
        output = executed / f"{name}.ipynb"
        parameters = notebook_parameters(name, profile=profile, data_dir=data,
                                         results_dir=results, jobs=jobs)
        try:
            papermill.execute_notebook(
                str(root / "notebooks" / f"{name}.ipynb"), str(output),
                parameters=parameters, cwd=str(root), progress_bar=False, log_output=False,
            )
        except papermill.PapermillExecutionError as error:
            raise ThesisError(f"notebook {name} failed: {error.ename}: "
                              f"{error.evalue.splitlines()[0] if error.evalue else ''} "
                              f"(see {output})") from None
        print(f"{name} done in {time.monotonic() - started:.0f} s", flush=True)
    return results


def report_outputs(results: Path) -> str:
    """Where the pipeline's products are, for the last lines it prints."""
    lines = [f"results:   {results}"]
    for label, folder in (("figures", "figures"), ("tables", "tables"), ("studies", "studies"),
                          ("notebooks", "notebooks")):
        path = results / folder
        if path.is_dir():
            count = sum(1 for item in path.rglob("*") if item.is_file())
            lines.append(f"{label + ':':<10} {path} ({count} files)")
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:
    pipeline = subparsers.add_parser(
        "pipeline", help="run notebooks 01-06 headlessly (papermill) for a profile",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pipeline.add_argument("--profile", default="thesis",
                          help="training profile: thesis, demo, smoke or a YAML path "
                               "(default: thesis)")
    _add_common_options(pipeline)
    pipeline.set_defaults(func=pipeline_command)

    demo = subparsers.add_parser(
        "demo", help="the whole pipeline on the generated demo data (make demo)",
        description="Notebooks 01-06 with the demo profile on the generated demo data; "
                    "results in results/demo/.",
    )
    _add_common_options(demo)
    demo.set_defaults(func=pipeline_command, profile="demo")


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
                           jobs=args.jobs, notebooks=tuple(args.notebooks))
    minutes = (time.monotonic() - started) / 60
    print(f"\npipeline ({args.profile}) finished in {minutes:.1f} min")
    print(report_outputs(results))
    return 0
