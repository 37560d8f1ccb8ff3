"""The notebooks as tasks, run headlessly in order, 01 -> 07.

**The pipeline.** ``thesis pipeline --profile thesis --data-dir /data/webemo_sad`` explores and
prepares the data (02 writes the deduplicated split that 03 and 04 then train on), trains the
networks of the thesis' studies, tests them for significance, draws the figures and tables and
analyses the embeddings of the trained networks (07);
``thesis demo`` (``make demo``) does the same on the generated demo data with the small ``demo``
profile. The executed notebooks are kept in ``<results>/notebooks/`` beside what they made, each
with a ``.log`` file that holds its kernel's start-up logs and warnings; the terminal shows one
line per notebook and per training run. The committed notebooks are never modified. Running the
pipeline again skips the training runs that have finished.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from thesis_lib import paths
from thesis_lib.config.parameters import NOTEBOOK_PARAMETERS
from thesis_lib.config.training import load_profile
from thesis_lib.errors import ConfigError
from thesis_lib.experiments.execute import duration, execute_notebook
from thesis_lib.experiments.slurm import check_requests, requests_for
from thesis_lib.experiments.studies import study_scale

NOTEBOOKS = tuple(NOTEBOOK_PARAMETERS)

# Fields of the training profile that notebooks 01 and 02 take too, so that they explore and
# split the data as the training runs will.
DATA_FIELDS = ("scheme", "adapter", "split_ratios", "min_side")


def prepared_data_dir(results_dir: Path, data_dir: str | None) -> Path:
    """Where notebook 02 writes the prepared split: ``<results>/data/<dataset name>``."""
    if data_dir is None:
        return results_dir / "data" / "demo"
    source = Path(data_dir)
    return results_dir / "data" / (source.stem if source.is_file() else source.name)


def pipeline_parameters(name: str, *, profile: str, data_dir: str | None, results_dir: Path,
                        jobs: int, split_file: str | None = None, executor: str = "local",
                        slurm: dict[str, Any] | None = None) -> dict[str, Any]:
    """The papermill parameters of one pipeline notebook.

    Args:
        name: the notebook.
        profile: the training profile; its data fields (scheme, split ratios...) also go to
            notebooks 01 and 02.
        data_dir: the dataset (``None``: the demo data).
        results_dir: where everything goes.
        jobs: training runs at a time (04).
        split_file: the split notebook 02 wrote, for 03 and 04.
        executor: where 04 trains its grid: ``local`` or ``slurm`` (one array job).
        slurm: SLURM requests of 04's cells (``--slurm``), over the profile's defaults.
    """
    values = load_profile(profile)
    data_fields = {key: values[key] for key in DATA_FIELDS if key in values}
    if "split_ratios" in data_fields:
        data_fields["split_ratios"] = list(data_fields["split_ratios"])
    # Folders inside the project as relative paths (the notebooks resolve them against the
    # project root), so that an executed notebook a user sends names no machine's folder.
    data = {"data_dir": data_dir} if data_dir else {}
    split = {"split_file": str(paths.shown(split_file))} if split_file else {}
    results = {"results_dir": str(paths.shown(results_dir))}
    prepared = str(paths.shown(prepared_data_dir(results_dir, data_dir)))
    by_notebook = {
        "01_data_exploration": {**data, **_without(data_fields, "min_side")},
        "02_prepare_data": {**data, **data_fields, **results,
                            "output_dir": prepared},
        "03_train": {"profile": profile, **data, **results, **split},
        "04_ablations": {"profile": profile, **data, **results, **split, "jobs": jobs,
                         **({"executor": executor, "slurm": dict(slurm or {})}
                            if executor != "local" else {})},
        "05_significance": {**results, "study": reported_study(profile)},
        "06_figures": {**results, "study": reported_study(profile)},
        "07_embeddings": {**results, "study": reported_study(profile)},
    }
    return by_notebook[name]


def reported_study(profile: str) -> str:
    """The study whose significance tests and figures the pipeline reports: the first of the
    profile's scale (``comparison`` for the thesis and the demo, ``loss`` for the
    dissertation)."""
    return study_scale(profile).studies[0]


def _without(values: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in values.items() if key not in names}


def run_pipeline(profile: str = "demo", *, data_dir: str | None = None,
                 results_dir: str | os.PathLike | None = None, jobs: int = 1,
                 notebooks: tuple[str, ...] = NOTEBOOKS, out: TextIO | None = None,
                 executor: str = "local", slurm: dict[str, Any] | None = None) -> Path:
    """Execute ``notebooks`` in order; returns the results folder.

    Args:
        profile: the training profile (``demo``, ``thesis``, ``smoke`` or a YAML path); it
            also sets the scale of the studies (see ``experiments.studies.STUDY_SCALES``).
        data_dir: the dataset; ``None`` means the generated demo dataset.
        results_dir: where everything goes; default ``results/<profile>``.
        jobs: training runs at a time.
        notebooks: which notebooks to run (names without ``.ipynb``).
        out: where the progress lines go (default: standard output).
        executor: ``local``, or ``slurm`` to train the grid of 04 as one SLURM array job (the
            other notebooks are short and run here); the results folder and the environment
            must be on a filesystem the cluster's nodes share.
        slurm: SLURM requests of 04's cells, over the profile's defaults.

    Raises:
        ThesisError: a notebook failed; the message names it, the error and the executed
            notebook that shows where (its failing cell and the end of its log are printed
            first).
    """
    out = out or sys.stdout
    unknown = [name for name in notebooks if name not in NOTEBOOKS]
    if unknown:
        raise ConfigError(f"unknown notebook(s) {', '.join(unknown)}; valid: "
                          f"{', '.join(NOTEBOOKS)}")
    if executor not in ("local", "slurm"):
        raise ConfigError(f"unknown executor {executor!r}; valid: local, slurm")
    if executor == "slurm" and "04_ablations" in notebooks:
        # A request the cluster cannot grant fails now, not after notebooks 01-03.
        check_requests(requests_for(profile, slurm))
    if data_dir is not None and not paths.resolve(data_dir).exists():
        raise ConfigError(f"dataset not found: {paths.resolve(data_dir)}")
    results = paths.resolve(results_dir or Path("results") / Path(str(profile)).stem)
    executed = results / "notebooks"
    executed.mkdir(parents=True, exist_ok=True)
    data = str(paths.resolve(data_dir)) if data_dir is not None else None
    split_path = prepared_data_dir(results, data) / "split.csv"
    started = time.monotonic()
    for number, name in enumerate(notebooks, start=1):
        split_file = split_path if ("02_prepare_data" in notebooks[:number - 1]
                                    or split_path.is_file()) else None
        parameters = pipeline_parameters(name, profile=profile, data_dir=data,
                                         results_dir=results, jobs=jobs,
                                         split_file=str(split_file) if split_file else None,
                                         executor=executor, slurm=slurm)
        took = execute_notebook(name, parameters, executed, out=out)
        left = len(notebooks) - number
        print(f"[{number}/{len(notebooks)}] {name} done in {duration(took)} "
              f"({duration(time.monotonic() - started)} in all"
              + (f"; {left} notebook{'s' if left > 1 else ''} left)" if left else ")"),
              file=out, flush=True)
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
