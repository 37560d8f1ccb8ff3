"""The thesis' studies: which networks each one compares, run as grids of training runs.

A *study* is a named set of *settings* (one network configuration each: variant, number of
modules, taps, activation...) trained with several seeds. Three studies answer the thesis'
questions:

- ``comparison``: the thesis table: the baseline, 2, 3 and 4 Gram modules, and the GramNet-style
  comparison model.
- ``taps``: which layers to tap: three modules on shallow stages only (1-3), on deep stages only
  (4-6), or mixed (2, 4, 6: the default).
- ``activations``: the "additional activation functions" inside the Gram modules.
- ``loss``: the dissertation's second question: cross-entropy against cross-entropy + lambda *
  the contrastive-center loss, for the baseline and for the Gram network.

Every cell (setting x seed) is one ordinary training run executed through
``notebooks/03_train.ipynb`` by :mod:`thesis_lib.experiments.grids`, so a run that two studies share
(e.g. the default three-module network is in all three) is trained once and found by its run id.
Which runs belong to a study is recorded in ``results_dir/studies/<study>/cells.csv``; the
study's ``summary.csv`` beside it is derived from the run records.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from thesis_lib import paths
from thesis_lib.analysis.results import (
    STUDY_CELLS_FILE,
    SUMMARY_COLUMNS,
    collect_runs,
    study_dir,
    summarize,
    write_table,
)
from thesis_lib.choices import get_backbone
from thesis_lib.config.settings import REFERENCE_RULES
from thesis_lib.config.training import TrainConfig, make_config
from thesis_lib.errors import ConfigError
from thesis_lib.experiments.grids import Grid, run_grids
from thesis_lib.files import write_csv

# Stages (1-based, see thesis_lib.models.backbones) tapped by the tap-selection ablation.
TAP_STAGES: dict[str, tuple[int, ...]] = {
    "shallow": (1, 2, 3),
    "mixed": (2, 4, 6),
    "deep": (4, 5, 6),
}
DEFAULT_ACTIVATIONS = ("relu", "gelu", "silu", "none")
STUDY_NAMES = ("comparison", "taps", "activations", "loss")
# lambda of the loss study when the profile trains with cross-entropy alone (the published
# papers do not state theirs; sweep it with a grid, see the README).
DEFAULT_CONTRASTIVE_CENTER_WEIGHT = 0.1


@dataclass(frozen=True)
class StudyScale:
    """How much of the studies a training profile runs by default.

    Args:
        seeds: seeds of every setting (the thesis: 5 trials).
        studies: which of :data:`STUDY_NAMES` to run.
        comparison_modules: Gram-module counts compared with the baseline.
        gramnet: whether the comparison includes the GramNet-style model.
        activations: activation functions compared inside the modules.
        pairwise: whether the comparison includes the pairwise Gram network.
    """

    seeds: tuple[int, ...]
    studies: tuple[str, ...]
    comparison_modules: tuple[int, ...]
    gramnet: bool
    activations: tuple[str, ...]
    pairwise: bool = False


# The thesis protocol for real data; small versions for the demo data (`make demo`, all six
# notebooks, must finish within 10 minutes on a 2-core CPU, where one demo run costs about a
# CPU minute) and for the notebook's regression test. The ablations are always available as
# parameters (e.g. `-p studies '["taps"]'`). The smoke scale uses seeds 1 and 2 because seed 0
# is the training notebook's own smoke run, which may be training at the same moment.
STUDY_SCALES: dict[str, StudyScale] = {
    "thesis": StudyScale((0, 1, 2, 3, 4), ("comparison", "taps", "activations"), (2, 3, 4),
                         True, DEFAULT_ACTIVATIONS),
    "dissertation": StudyScale((0, 1, 2, 3, 4), ("loss", "comparison"), (4,), False,
                               DEFAULT_ACTIVATIONS, pairwise=True),
    "demo": StudyScale((0, 1), ("comparison",), (2, 4), False, ("relu", "gelu")),
    # Seeds 0 and 1, as in demo: notebook 03's default run (Gram-2, seed 0) is then one of the
    # comparison's cells, trained once.
    "smoke": StudyScale((0, 1), ("comparison",), (2,), False, ("relu",)),
}


def study_scale(profile: str | os.PathLike | None) -> StudyScale:
    """The default scale of a training profile (by its name); the thesis scale otherwise."""
    name = Path(str(profile)).stem if profile else "thesis"
    return STUDY_SCALES.get(name, STUDY_SCALES["thesis"])


@dataclass
class Study:
    """A named set of network settings, each trained once per seed.

    Args:
        name: the study's name (folder ``results_dir/studies/<name>``).
        settings: setting label -> the training-configuration fields that define it.
        seeds: the seeds every setting is trained with.
        reference_rule: how each setting finds the setting it is compared with
            (``thesis_lib.config.settings.REFERENCE_RULES``): ``"step"``, the setting without its
            outermost step (Gram-4 + loss -> Gram-4, a tap variant -> the default network,
            Gram-N -> the baseline), or ``"baseline"``, the plain baseline for every setting.
    """

    name: str
    settings: dict[str, dict[str, Any]]
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    reference_rule: str = "step"

    def __post_init__(self) -> None:
        if not self.settings:
            raise ConfigError(f"study {self.name!r} has no settings")
        if not self.seeds:
            raise ConfigError(f"study {self.name!r} needs at least one seed")
        if self.reference_rule not in REFERENCE_RULES:
            raise ConfigError(f"study {self.name!r}: reference_rule must be one of "
                              f"{', '.join(REFERENCE_RULES)}, got {self.reference_rule!r}")


def comparison_study(seeds: Sequence[int], modules: Sequence[int] = (2, 3, 4),
                     gramnet: bool = True, pairwise: bool = False) -> Study:
    """The thesis table: baseline, ``gram`` with each number of ``modules``, GramNet, and
    (optionally) the pairwise network on the taps of the largest module count."""
    settings: dict[str, dict[str, Any]] = {"baseline": {"variant": "baseline", "modules": 0}}
    for count in modules:
        settings[f"gram-{count}"] = {"variant": "gram", "modules": int(count)}
    if gramnet:
        settings["gramnet"] = {"variant": "gramnet", "modules": 4}
    if pairwise:
        # Pairs of consecutive default taps of (largest count) modules: the same tapped layers.
        pairs = max(max(modules, default=4) - 1, 1)
        settings[f"pairwise-{pairs}"] = {"variant": "pairwise", "modules": pairs}
    return Study("comparison", settings, list(seeds))


def loss_study(seeds: Sequence[int], *, modules: int = 4,
               weight: float = DEFAULT_CONTRASTIVE_CENTER_WEIGHT) -> Study:
    """Cross-entropy against cross-entropy + ``weight`` * contrastive-center loss, for the
    baseline and for ``gram`` with ``modules`` Gram modules."""
    plain, with_loss = {"contrastive_center_weight": 0.0}, {"contrastive_center_weight": weight}
    gram = {"variant": "gram", "modules": int(modules)}
    settings = {
        "baseline": {"variant": "baseline", "modules": 0, **plain},
        "baseline+ctc": {"variant": "baseline", "modules": 0, **with_loss},
        f"gram-{modules}": {**gram, **plain},
        f"gram-{modules}+ctc": {**gram, **with_loss},
    }
    return Study("loss", settings, list(seeds))


def tap_study(seeds: Sequence[int], backbone: str) -> Study:
    """Three Gram modules on shallow, deep or mixed stages of ``backbone``."""
    stage_ends = get_backbone(backbone).stage_ends
    settings = {
        f"taps-{name}": {"variant": "gram", "modules": len(stages),
                         "taps": [stage_ends[stage - 1][0] for stage in stages]}
        for name, stages in TAP_STAGES.items()
    }
    # The mixed taps are the default for three modules: leave taps unset so the run is the
    # very same as the comparison study's three-module network.
    settings["taps-mixed"].pop("taps")
    return Study("taps", settings, list(seeds))


def activation_study(seeds: Sequence[int],
                     activations: Sequence[str] = DEFAULT_ACTIVATIONS) -> Study:
    """Three Gram modules with each activation function inside the modules."""
    settings = {f"activation-{name}": {"variant": "gram", "modules": 3, "activation": name}
                for name in activations}
    # relu is the default: the same run as the comparison study's three-module network.
    settings.get("activation-relu", {}).pop("activation", None)
    return Study("activations", settings, list(seeds))


def make_study(name: str, seeds: Sequence[int], *, backbone: str,
               comparison_modules: Sequence[int] = (2, 3, 4), gramnet: bool = True,
               activations: Sequence[str] = DEFAULT_ACTIVATIONS, pairwise: bool = False,
               loss_modules: int = 4,
               contrastive_center_weight: float = DEFAULT_CONTRASTIVE_CENTER_WEIGHT) -> Study:
    """One of :data:`STUDY_NAMES` by name."""
    if name == "comparison":
        return comparison_study(seeds, comparison_modules, gramnet, pairwise)
    if name == "taps":
        return tap_study(seeds, backbone)
    if name == "activations":
        return activation_study(seeds, activations)
    if name == "loss":
        return loss_study(seeds, modules=loss_modules, weight=contrastive_center_weight)
    raise ConfigError(f"unknown study {name!r}; valid: {', '.join(STUDY_NAMES)}")


def plan_studies(
    profile: str | os.PathLike,
    names: Sequence[str] | None = None,
    *,
    seeds: Sequence[int] | None = None,
    comparison_modules: Sequence[int] | None = None,
    gramnet: bool | None = None,
    activations: Sequence[str] | None = None,
    pairwise: bool | None = None,
    loss_study_weight: float | None = None,
    backbone: str | None = None,
    data_dir: str | None = None,
    split_file: str | None = None,
) -> tuple[TrainConfig, list[Study]]:
    """The studies notebook 04 trains, and the profile's configuration they start from.

    Every argument left at ``None`` takes the profile's scale (``study_scale``): its studies,
    seeds, module counts, GramNet and pairwise choice and activations. The loss study adds the
    contrastive-center loss to the profile's Gram network (4 modules when the profile trains
    another variant), with ``loss_study_weight``, else the profile's weight, else
    ``DEFAULT_CONTRASTIVE_CENTER_WEIGHT``.

    Raises:
        ConfigError: an unknown study, profile or field value.
    """
    scale = study_scale(profile)
    base = make_config(profile, data_dir=data_dir, backbone=backbone, split_file=split_file)
    weight = (loss_study_weight or base.contrastive_center_weight
              or DEFAULT_CONTRASTIVE_CENTER_WEIGHT)
    studies = [
        make_study(
            name,
            seeds if seeds is not None else scale.seeds,
            backbone=base.backbone,
            comparison_modules=comparison_modules or scale.comparison_modules,
            gramnet=scale.gramnet if gramnet is None else gramnet,
            activations=activations or scale.activations,
            pairwise=scale.pairwise if pairwise is None else pairwise,
            loss_modules=base.modules if base.variant == "gram" else 4,
            contrastive_center_weight=weight,
        )
        for name in (names or scale.studies)
    ]
    return base, studies


# Each study's reference rule (see Study): every built-in study compares each step with the
# setting without it, so the loss study tests Gram-4 + loss against Gram-4, the tap and
# activation studies test each variant against the default network.
STUDY_REFERENCE_RULES = {name: "step" for name in STUDY_NAMES}


def reference_rule(study: str | None) -> str:
    """The reference rule of a study by name (``"step"`` for every built-in study and for all
    runs of a results folder)."""
    return STUDY_REFERENCE_RULES.get(str(study), "step") if study else "step"


def _results_root(results_dir: str | os.PathLike | None) -> Path:
    return paths.resolve(results_dir) if results_dir is not None else paths.results_dir()


def plan_table(chosen: Sequence[Study]) -> pd.DataFrame:
    """One row per study and setting: the fields that define it and the seeds it runs."""
    rows = [{"study": study.name, "setting": setting, "variant": fields["variant"],
             "modules": fields["modules"], "taps": ",".join(fields.get("taps") or []) or "default",
             "activation": fields.get("activation", "default"),
             "loss": _loss_label(fields),
             "seeds": ",".join(str(seed) for seed in study.seeds)}
            for study in chosen for setting, fields in study.settings.items()]
    return pd.DataFrame(rows)


def _loss_label(fields: dict[str, Any]) -> str:
    if "contrastive_center_weight" not in fields:
        return "as the profile"
    weight = fields["contrastive_center_weight"]
    return f"cross-entropy + contrastive-center (λ={weight:g})" if weight else "cross-entropy"


def run_study(study: Study, *, profile: str | None, fixed: dict[str, Any] | None = None,
              executor: str = "local", jobs: int = 1, force: bool = False,
              slurm: dict[str, Any] | None = None,
              results_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Train every setting x seed of ``study`` (finished runs are skipped) and record its cells.

    Args:
        study: the study.
        profile: the training profile of every cell (``smoke``, ``demo``, ``thesis``...).
        fixed: configuration fields shared by every cell (``data_dir``, ``backbone``...).
        executor, jobs, force, slurm: as for :func:`thesis_lib.experiments.grids.run_grid`.
        results_dir: the results folder; default ``<project>/results``.

    Returns:
        The cells: setting, seed, run_id, state, test_accuracy, error; also written to
        ``results_dir/studies/<study>/cells.csv``.
    """

    fixed = dict(fixed or {})
    if results_dir is not None:
        fixed["results_dir"] = str(paths.resolve(results_dir))
    grids = [Grid(axes={"seed": list(study.seeds)}, fixed={**fixed, **fields},
                  profile=profile, name=f"{study.name}-{setting}")
             for setting, fields in study.settings.items()]
    # One batch for the whole study: `jobs` runs at a time across its settings.
    summaries = run_grids(grids, name=study.name, executor=executor, jobs=jobs, force=force,
                          slurm=slurm, results_dir=results_dir)
    parts = []
    for setting, cells in zip(study.settings, summaries, strict=True):
        cells.insert(0, "setting", setting)
        cells.insert(1, "seed", list(study.seeds))
        parts.append(cells.drop(columns=["cell"]))
    table = pd.concat(parts, ignore_index=True)
    write_csv(study_dir(_results_root(results_dir), study.name) / STUDY_CELLS_FILE, table)
    return table


def study_runs(study: str, results_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """The finished runs of a study, each with its ``setting``; one row per run and
    evaluation dataset (see :func:`thesis_lib.analysis.results.collect_runs`)."""

    return collect_runs(_results_root(results_dir), study=study, warn=False)


def finished_counts(cells: pd.DataFrame) -> pd.DataFrame:
    """Per setting: how many of its runs are finished (trained now or earlier) of how many."""
    done = cells["state"].isin(["finished", "skipped"])
    table = cells.assign(finished=done).groupby("setting", sort=False)["finished"]
    return table.agg(finished="sum", runs="count").reset_index()


def summarize_study(runs: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Per setting and evaluation dataset: mean, SD (ddof = 1), n, SEM and the 95 % CI, with
    the study's label of the setting (``setting``) and its readable name (``network``)."""

    return summarize(runs, metric=metric)


def write_study_summary(study: str, results_dir: str | os.PathLike | None = None) -> Path:
    """Write ``summary.csv`` of a study (all headline metrics) beside its ``cells.csv``."""

    runs = study_runs(study, results_dir)
    parts = [summarize_study(runs, metric) for metric in SUMMARY_COLUMNS
             if metric in runs.columns and runs[metric].notna().any()]
    summary = pd.concat(parts, ignore_index=True) if parts else summarize_study(runs)
    return write_table(summary, study_dir(_results_root(results_dir), study) / "summary.csv")


def setting_table(summary: pd.DataFrame, dataset: str = "test", decimals: int = 3) -> pd.DataFrame:
    """An ablation's view: setting, mean accuracy (%), SD (%, ddof = 1) and n."""
    rows = summary[(summary["metric"] == "accuracy") & (summary["dataset"] == dataset)]
    return pd.DataFrame({
        "setting": rows["setting"].to_numpy(),
        "accuracy (%)": (rows["mean"] * 100).round(decimals).to_numpy(),
        "SD (%)": (rows["sd_ddof1"] * 100).round(decimals).to_numpy(),
        "n": rows["n"].to_numpy(),
    })
