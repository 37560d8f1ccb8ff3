"""The notebooks as tasks: their parameters, and running them headlessly, 01 -> 07.

**Parameters.** Every notebook has one cell tagged ``parameters`` (papermill injects
``-p name value`` after it) and calls :func:`typed` right after it, with the notebook's class
below, so that every parameter has its declared type whatever its source: ``-p seeds '[1, 2]'``
is ``[1, 2]``, ``-p force false`` is ``False``, ``-p studies taps`` is ``["taps"]``, and a value
that does not convert stops the notebook at its top with one line naming the parameter. The
classes repeat the defaults of the parameters cells; a test keeps the two in agreement.

The training notebook (03) takes every ``TrainConfig`` field as a parameter too; those are
converted by ``TrainConfig`` itself.

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

import argparse
import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from thesis_lib import paths
from thesis_lib.errors import ConfigError, ThesisError
from thesis_lib.parameters import convert_fields, from_namespace


@dataclass
class ExplorationParameters:
    """``01_data_exploration``."""

    data_dir: str | None = None
    scheme: str = "sadness"
    adapter: str = "auto"
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_file: str | None = None
    seed: int = 0
    max_images: int = 2000
    samples_per_class: int = 6
    preview_images: int = 2
    randaugment_ops: int = 3
    randaugment_magnitude: float = 7

    def __post_init__(self) -> None:
        convert_fields(self)


@dataclass
class PreparationParameters:
    """``02_prepare_data``."""

    data_dir: str | None = None
    dataset_name: str | None = None
    scheme: str = "sadness"
    adapter: str = "auto"
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    min_side: int = 32
    drop_duplicates: bool = True
    cache_dir: str | None = None
    image_size: int = 256
    resize: str = "squash"
    results_dir: str = "results"
    output_dir: str | None = None
    overwrite: bool = False

    def __post_init__(self) -> None:
        convert_fields(self)


@dataclass
class TrainingParameters:
    """``03_train``: these three, and every ``TrainConfig`` field."""

    profile: str | None = "smoke"
    force: bool = False
    run_dir: str | None = None

    def __post_init__(self) -> None:
        convert_fields(self)


@dataclass
class AblationParameters:
    """``04_ablations``."""

    profile: str = "smoke"
    data_dir: str | None = None
    split_file: str | None = None
    results_dir: str = "results"
    studies: list[str] | None = None
    seeds: list[int] | None = None
    comparison_modules: list[int] | None = None
    gramnet: bool | None = None
    activations: list[str] | None = None
    pairwise: bool | None = None
    loss_study_weight: float | None = None
    backbone: str | None = None
    executor: str = "local"
    jobs: int = 1
    slurm: dict[str, Any] = field(default_factory=dict)
    force: bool = False

    def __post_init__(self) -> None:
        convert_fields(self)


@dataclass
class SignificanceParameters:
    """``05_significance``."""

    results_dir: str = "results"
    study: str | None = "comparison"
    reference: str | None = None
    baseline: str = "baseline"
    metric: str = "accuracy"
    alpha: float = 0.05
    power: float = 0.8

    def __post_init__(self) -> None:
        convert_fields(self)


@dataclass
class FigureParameters:
    """``06_figures``."""

    results_dir: str = "results"
    study: str | None = None
    baseline: str = "baseline"
    examples_per_class: int = 2
    example_classes: list[str] | None = None
    gram_max_channels: int = 32

    def __post_init__(self) -> None:
        convert_fields(self)


@dataclass
class EmbeddingParameters:
    """``07_embeddings``."""

    results_dir: str = "results"
    study: str | None = None
    neighbours: int = 10
    seed: int = 0
    new_images: list[str] | None = None
    top_k: int = 2
    confidence_threshold: float | None = None

    def __post_init__(self) -> None:
        convert_fields(self)


NOTEBOOK_PARAMETERS: dict[str, type] = {
    "01_data_exploration": ExplorationParameters,
    "02_prepare_data": PreparationParameters,
    "03_train": TrainingParameters,
    "04_ablations": AblationParameters,
    "05_significance": SignificanceParameters,
    "06_figures": FigureParameters,
    "07_embeddings": EmbeddingParameters,
}


def typed(namespace: MutableMapping[str, Any], parameters: type) -> Any:
    """Convert the parameters ``parameters`` declares, in ``namespace`` (a notebook's
    ``globals()``), to their declared types, in place; returns the converted instance.

    Raises:
        ConfigError: one line naming the parameter, its value and what it should be.
    """
    from thesis_lib.train.notebook import show_thesis_errors_briefly

    show_thesis_errors_briefly()
    converted = from_namespace(parameters, namespace)
    namespace.update(dataclasses.asdict(converted))
    return converted


# ---------------------------------------------------------------------------------------------
# The pipeline

NOTEBOOKS = tuple(NOTEBOOK_PARAMETERS)

# Lines a notebook prints that the pipeline shows in the terminal (the grid's per-run lines).
PROGRESS_PREFIX = "progress: "
# Fields of the training profile that notebooks 01 and 02 take too, so that they explore and
# split the data as the training runs will.
DATA_FIELDS = ("scheme", "adapter", "split_ratios", "min_side")


def prepared_data_dir(results_dir: Path, data_dir: str | None) -> Path:
    """Where notebook 02 writes the prepared split: ``<results>/data/<dataset name>``."""
    if data_dir is None:
        return results_dir / "data" / "demo"
    source = Path(data_dir)
    return results_dir / "data" / (source.stem if source.is_file() else source.name)


def notebook_parameters(name: str, *, profile: str, data_dir: str | None, results_dir: Path,
                        jobs: int, split_file: str | None = None) -> dict[str, Any]:
    """The papermill parameters of one pipeline notebook.

    Args:
        name: the notebook.
        profile: the training profile; its data fields (scheme, split ratios...) also go to
            notebooks 01 and 02.
        data_dir: the dataset (``None``: the demo data).
        results_dir: where everything goes.
        jobs: training runs at a time (04).
        split_file: the split notebook 02 wrote, for 03 and 04.
    """
    from thesis_lib.train.config import load_profile

    values = load_profile(profile)
    data_fields = {key: values[key] for key in DATA_FIELDS if key in values}
    if "split_ratios" in data_fields:
        data_fields["split_ratios"] = list(data_fields["split_ratios"])
    data = {"data_dir": data_dir} if data_dir else {}
    split = {"split_file": split_file} if split_file else {}
    results = {"results_dir": str(results_dir)}
    by_notebook = {
        "01_data_exploration": {**data, **_without(data_fields, "min_side")},
        "02_prepare_data": {**data, **data_fields, **results,
                            "output_dir": str(prepared_data_dir(results_dir, data_dir))},
        "03_train": {"profile": profile, **data, **results, **split},
        "04_ablations": {"profile": profile, **data, **results, **split, "jobs": jobs},
        "05_significance": {**results, "study": reported_study(profile)},
        "06_figures": {**results, "study": reported_study(profile)},
        "07_embeddings": {**results, "study": reported_study(profile)},
    }
    return by_notebook[name]


def reported_study(profile: str) -> str:
    """The study whose significance tests and figures the pipeline reports: the first of the
    profile's scale (``comparison`` for the thesis and the demo, ``loss`` for the
    dissertation)."""
    from thesis_lib.studies import study_scale

    return study_scale(profile).studies[0]


def _without(values: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in values.items() if key not in names}


def run_pipeline(profile: str = "demo", *, data_dir: str | None = None,
                 results_dir: str | os.PathLike | None = None, jobs: int = 1,
                 notebooks: tuple[str, ...] = NOTEBOOKS, out: TextIO | None = None) -> Path:
    """Execute ``notebooks`` in order; returns the results folder.

    Args:
        profile: the training profile (``demo``, ``thesis``, ``smoke`` or a YAML path); it
            also sets the scale of the studies (see ``thesis_lib.studies.STUDY_SCALES``).
        data_dir: the dataset; ``None`` means the generated demo dataset.
        results_dir: where everything goes; default ``results/<profile>``.
        jobs: training runs at a time.
        notebooks: which notebooks to run (names without ``.ipynb``).
        out: where the progress lines go (default: standard output).

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
        parameters = notebook_parameters(name, profile=profile, data_dir=data,
                                         results_dir=results, jobs=jobs,
                                         split_file=str(split_file) if split_file else None)
        took = execute_notebook(name, parameters, executed, out=out)
        left = len(notebooks) - number
        print(f"[{number}/{len(notebooks)}] {name} done in {_duration(took)} "
              f"({_duration(time.monotonic() - started)} in all"
              + (f"; {left} notebook{'s' if left > 1 else ''} left)" if left else ")"),
              file=out, flush=True)
    return results


def execute_notebook(name: str, parameters: dict[str, Any], folder: Path, *,
                     out: TextIO) -> float:
    """Run one notebook into ``folder/<name>.ipynb`` with its kernel's logs in
    ``folder/<name>.log``; returns the seconds it took.

    The kernel's own output (TensorFlow's C++ start-up logs, written straight to the process's
    standard error) and the notebook's stderr stream go to the log file; lines the notebook
    prints with :data:`PROGRESS_PREFIX` are shown in ``out``.
    """
    import papermill

    output = folder / f"{name}.ipynb"
    log_path = folder / f"{name}.log"
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log, _stderr_to(log):
        try:
            papermill.execute_notebook(
                str(paths.project_root() / "notebooks" / f"{name}.ipynb"), str(output),
                parameters=parameters, cwd=str(paths.project_root()), progress_bar=False,
                log_output=False, stdout_file=_ProgressLines(out), stderr_file=log,
            )
        except papermill.PapermillExecutionError as error:
            log.flush()
            failure = error
        else:
            failure = None
    if failure is not None:
        _show_failure(name, failure, log_path, out)
        first_line = failure.evalue.splitlines()[0] if failure.evalue else ""
        raise ThesisError(f"notebook {name} failed: {failure.ename}: {first_line} "
                          f"(see {output} and {log_path})") from None
    return time.monotonic() - started


class _ProgressLines:
    """A file-like sink for a notebook's stdout that passes on only the progress lines."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line.startswith(PROGRESS_PREFIX):
                print("  " + line.removeprefix(PROGRESS_PREFIX), file=self.out, flush=True)
        return len(text)

    def flush(self) -> None:
        self.out.flush()


@contextlib.contextmanager
def _stderr_to(log: TextIO) -> Iterator[None]:
    """Point this process's file descriptor 2 (inherited by the kernels it starts) at ``log``."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (some embedded interpreters): leave it as it is
        yield
        return
    os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _show_failure(name: str, error, log_path: Path, out: TextIO, tail: int = 15) -> None:
    """The failing cell and the end of the kernel's log, for the terminal."""
    print(f"\n{name} failed in cell {error.cell_index}: {error.ename}: "
          f"{(error.evalue or '').splitlines()[0] if error.evalue else ''}", file=out)
    print("--- the cell:", file=out)
    print("\n".join("    " + line for line in (error.source or "").splitlines()), file=out)
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    if lines:
        print(f"--- the last lines of {log_path}:", file=out)
        print("\n".join("    " + line for line in lines[-tail:]), file=out)
    out.flush()


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


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
