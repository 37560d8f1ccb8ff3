"""The texts of a release: ``CITATION.cff`` (Citation File Format 1.2.0) and the model card
(``MODEL_CARD.md``: the networks, the data, the metrics with their intervals, intended use and
limits), both made from ``release.json`` and the release's own tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from thesis_lib import files
from thesis_lib.analysis.results import (
    collect_runs,
    interval_columns,
    mean_with_interval,
    scale_note,
)

CFF_VERSION = "1.2.0"
CFF_REQUIRED = ("cff-version", "message", "title", "authors")
# Metric -> how the card names it, in the card's column order.
CARD_METRICS = {
    "accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "macro_f1": "macro F1",
    "expected_calibration_error": "ECE", "brier_score": "Brier", "nll": "NLL",
    "calibrated_expected_calibration_error": "ECE after T",
}


def _author(name: str) -> dict[str, str]:
    """``"Family, Given"`` -> family-names and given-names; any other text -> name."""
    if "," in name:
        family, given = (part.strip() for part in name.split(",", 1))
        if family and given:
            return {"family-names": family, "given-names": given}
    return {"name": name.strip()}


def citation_cff(record: dict[str, Any]) -> str:
    """``CITATION.cff`` of a release (``record``: its ``release.json``)."""
    cff = {
        "cff-version": CFF_VERSION,
        "message": "If you use these models, splits or results, please cite them as below.",
        "type": "dataset",
        "title": record["title"],
        "authors": [_author(name) for name in record["authors"]],
        "version": record["version"],
        "date-released": record["created"][:10],
        "license": record["licence"],
    }
    if record.get("workbench_commit"):
        cff["commit"] = str(record["workbench_commit"])
    return yaml.safe_dump(cff, sort_keys=False, allow_unicode=True)


def check_citation(text: str) -> dict[str, Any]:
    """The parsed ``CITATION.cff``; a ``ValueError`` names a missing required field.

    Args:
        text: the file's text.
    """
    cff = yaml.safe_load(text)
    if not isinstance(cff, dict):
        raise ValueError("CITATION.cff is not a YAML mapping")
    missing = [key for key in CFF_REQUIRED if not cff.get(key)]
    if missing:
        raise ValueError(f"CITATION.cff lacks {', '.join(missing)}")
    if not all(isinstance(a, dict) and ({"name"} <= a.keys() or {"family-names"} <= a.keys())
               for a in cff["authors"]):
        raise ValueError("CITATION.cff: every author needs name or family-names")
    return cff


def model_card(release: Path, record: dict[str, Any]) -> str:
    """``MODEL_CARD.md`` of the release folder ``release``."""
    runs = collect_runs(release, warn=False)
    summary = pd.read_csv(release / "summary" / "summary.csv")
    parts = [f"# Model card: {record['title']}", "",
             f"Licence: {record['licence']}. Authors: {'; '.join(record['authors'])}. "
             f"Released {record['created'][:10]} with thesis-workbench commit "
             f"`{record.get('workbench_commit')}`. Cite with `CITATION.cff`.", "",
             "## The networks", "", _networks(runs, record), "",
             "## The data", "", _data(release, record, runs), "",
             "## Metrics", "",
             "Mean over seeds with its 95 % t interval in brackets (none for a single run); "
             "fractions. ECE: expected calibration error over equal-mass bins of confidence; "
             "Brier: mean over images of the summed squared error to the one-hot label; NLL: "
             "mean negative log-likelihood; \"after T\": after temperature scaling fitted on "
             "the validation split. Lower is better for the last four. `summary/` holds every "
             "metric per setting and evaluation dataset.", "",
             _metrics(summary), ""]
    note = scale_note(runs)
    parts += ["## Intended use", "",
              "Research on recognising emotion in images: reproducing, checking and comparing "
              "the results of the thesis that made these networks, and predicting the emotion "
              "classes on new images for study (`thesis predict`). Not for decisions about "
              "people: the networks learned the labels of their training data (above), with "
              "its choices and biases.", "",
              "## Limits", "",
              *([f"- {note}"] if note else []),
              "- Accuracies hold for images like the test split; on other datasets they drop "
              "(the cross-dataset rows show by how much where they were measured).",
              "- The probabilities are calibrated only as far as the table shows; use "
              "`thesis predict --calibrated` for the temperature-scaled ones.",
              "- Emotion labels are subjective: one label per image hides the disagreement of "
              "annotators.", "",
              "## What is not here", "", record["left_out"], ""]
    return "\n".join(parts)


def _markdown(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in table.columns) + " |"
    rows = ["| " + " | ".join(str(value) for value in row) + " |"
            for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def _networks(runs: pd.DataFrame, record: dict[str, Any]) -> str:
    own = runs[runs["dataset"] == "test"]
    settings = {run["run_id"]: run.get("setting") for run in record["runs"]}
    rows = []
    for network, group in own.groupby("network", sort=False):
        first = group.iloc[0]
        rows.append({"network": network,
                     "setting": settings.get(first["run_id"]) or "-",
                     "variant": first["variant"], "modules": first["modules"],
                     "backbone": first["backbone"], "image size": first["image_size"],
                     "seeds": ", ".join(str(int(seed)) for seed in sorted(group["seed"])),
                     "runs": ", ".join(f"`{run}`" for run in group["run_id"])})
    text = ("Image backbones (column backbone; EfficientNetV2 in the thesis) with Gram-matrix "
            "modules (the layers are in `code/`); "
            "each run's `config.json` holds every field of its configuration and "
            "`model.keras` the trained network, loadable with "
            "`keras.saving.load_model(path, safe_mode=True)` after `import thesis_lib.layers`.")
    return text + "\n\n" + _markdown(pd.DataFrame(rows))


def _data(release: Path, record: dict[str, Any], runs: pd.DataFrame) -> str:
    lines = []
    for name, data in record["datasets"].items():
        fingerprint = files.read_json(release / "data" / name / "fingerprint.json")
        values = ", ".join(f"`{item.get('value')}`"
                           for item in fingerprint["data_fingerprints"]) or "-"
        lines.append(f"- `{name}`: {data['images']} files, each with size and SHA-256 in "
                     f"`{data['files']}`; data fingerprint(s) {values}; the splits "
                     f"(relative path, label, split, size, SHA-256): "
                     f"{', '.join(f'`{path}`' for path in data['splits'])}.")
    sizes = runs[runs["dataset"] == "test"]["n_images"].dropna().astype(int)
    if not sizes.empty:
        lines.append(f"- Test split: {sizes.min()}-{sizes.max()} images per run. No image is "
                     "in the release: `thesis verify RELEASE --data-dir DIR` proves a copy of "
                     "the dataset is the same.")
    return "\n".join(lines)


def _metrics(summary: pd.DataFrame) -> str:
    interval = interval_columns(summary)
    rows = []
    for (dataset, network), group in summary.groupby(["dataset", "network"], sort=False):
        row = {"dataset": dataset, "network": network, "n": int(group["n"].max())}
        for metric, label in CARD_METRICS.items():
            match = group[group["metric"] == metric]
            row[label] = "-" if match.empty else mean_with_interval(match.iloc[0], interval)
        rows.append(row)
    return _markdown(pd.DataFrame(rows))

