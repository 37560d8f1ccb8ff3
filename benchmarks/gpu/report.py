"""Ratios, targets and grid projections from the GPU benchmark's JSON (see ``bench.py``).

    python benchmarks/gpu/report.py results/benchmarks/gpu_h200*.json     # Markdown tables

``summarize`` runs at the end of every benchmark run (it needs nothing but the item records)
and goes into the JSON. The Markdown report adds what needs the project's configuration: the
projected wall time of the thesis' and the dissertation's grids of training runs on one such
GPU, read from ``configs/thesis.yaml``, ``configs/dissertation.yaml`` and
``thesis_lib.experiments.studies.STUDY_SCALES``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the projections import the project
# The targets the benchmark reports against.
TARGET_RATES = {"EfficientNetV2B2": 3000.0, "EfficientNetV2S": 1500.0}  # images/s, one GPU
TARGET_GRAM_SLOWDOWN = 0.05  # Gram-4 at most 5 % slower than its baseline
# Training images per epoch (80 % of each dataset; docs/research.md gives the dataset sizes).
THESIS_TRAIN_IMAGES = 48_859  # 80 % of the thesis' 61,074 images
EMOSET_TRAIN_IMAGES = int(0.8 * 118_102)  # EmoSet-118K, the dissertation's large dataset
FI_TRAIN_IMAGES = int(0.8 * 23_000)  # FI-8, "about 23k images"


# A timing whose interquartile range exceeds this share of its median was disturbed (by other
# work on the GPU): its median is reported, but no ratio or target rests on it.
STEADY_SPREAD = 0.10


def _key(record: dict[str, Any]) -> tuple:
    return (record["backbone"], record["precision"], record["batch_size"])


def relative_spread(record: dict[str, Any]) -> float | None:
    """Interquartile range of the step times over their median (None: no timed steps)."""
    if not record.get("median_step_s"):
        return None
    return record["iqr_step_s"] / record["median_step_s"]


def steady(record: dict[str, Any]) -> bool:
    """Whether a timing is undisturbed: its step times spread little (see STEADY_SPREAD)."""
    spread = relative_spread(record)
    return spread is not None and spread <= STEADY_SPREAD


def _ok(records: Iterable[dict[str, Any]], kind: str, **match: Any) -> list[dict[str, Any]]:
    """The successful records of one kind matching ``match``: steady ones first, then the
    fastest first (other work on the GPU only ever slows a timing down)."""
    found = [
        record for record in records
        if record["kind"] == kind and record["status"] == "ok"
        and all(record.get(name) == value for name, value in match.items())
    ]
    return sorted(found, key=lambda record: (not steady(record), -record["images_per_s"]))


def _ratio(value: float, *records: dict[str, Any]) -> dict[str, Any]:
    return {"value": round(value, 4), "steady": all(steady(record) for record in records)}


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The numbers the questions need, from the item records of one run.

    Every ratio says whether both of its timings were steady; only steady ones answer a target.
    """
    keras = _ok(records, "keras")
    summary: dict[str, Any] = {"largest_batch": {}, "gram_slowdown": {}, "keras_over_timm": {},
                               "fit_over_resident": {}, "targets": {}}
    # Largest batch that ran, per backbone / precision / network (with the sizes that did not).
    for record in keras:
        label = f"{record['backbone']}/{record['precision']}/{record['network']}"
        best = summary["largest_batch"].get(label)
        if best is None or record["batch_size"] > best["batch_size"]:
            summary["largest_batch"][label] = {
                "batch_size": record["batch_size"], "images_per_s": record["images_per_s"],
                "peak_gib": _gib(record.get("peak_bytes"))}
    for record in records:
        if record["kind"] == "keras" and record["status"] == "oom":
            label = f"{record['backbone']}/{record['precision']}/{record['network']}"
            summary["largest_batch"].setdefault(label, {}).setdefault("oom_at", []).append(
                record["batch_size"])
    # Gram-N / baseline: how much slower each network trains than its baseline.
    for record in keras:
        backbone, precision, batch = _key(record)
        baseline = _ok(records, "keras", backbone=backbone, precision=precision,
                       batch_size=batch, network="baseline")
        if record["network"] != "baseline" and baseline:
            label = f"{backbone}/{precision}/b{batch}/{record['network']}"
            summary["gram_slowdown"][label] = _ratio(
                baseline[0]["images_per_s"] / record["images_per_s"] - 1, baseline[0], record)
    # Keras on JAX over timm on PyTorch, same backbone, precision and batch.
    for record in _ok(records, "timm"):
        backbone, precision, batch = _key(record)
        ours = _ok(records, "keras", backbone=backbone, precision=precision, batch_size=batch,
                   network="baseline")
        if ours:
            label = f"{backbone}/{precision}/b{batch}/{record['compiler']}"
            summary["keras_over_timm"][label] = _ratio(
                ours[0]["images_per_s"] / record["images_per_s"], ours[0], record)
    # fit from host memory over the same network with its batch on the GPU.
    for record in _ok(records, "fit"):
        backbone, precision, batch = _key(record)
        resident = _ok(records, "keras", backbone=backbone, precision=precision,
                       batch_size=batch, network=record["network"])
        if resident:
            label = f"{backbone}/{precision}/b{batch}/{record['network']}"
            summary["fit_over_resident"][label] = _ratio(
                record["images_per_s"] / resident[0]["images_per_s"], resident[0])
    summary["targets"] = targets(records, summary)
    return summary


def targets(records: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
    """Each target: what was measured and whether it is met (None: not measured steadily)."""
    found: dict[str, Any] = {}
    for backbone, target in TARGET_RATES.items():
        for network in ("baseline", "gram4"):
            best = best_record(records, backbone, network)
            met = None if best is None or not steady(best) else best["images_per_s"] >= target
            found[f"{backbone}/{network} >= {target:.0f} img/s"] = {
                "measured": _described(best), "met": met}
        gram = best_record(records, backbone, "gram4")
        if gram:
            label = f"{backbone}/{gram['precision']}/b{gram['batch_size']}/gram4"
            slowdown = summary["gram_slowdown"].get(label)
            met = None if not slowdown or not slowdown["steady"] else \
                slowdown["value"] <= TARGET_GRAM_SLOWDOWN
            found[f"{backbone}/gram4 at most 5 % slower than the baseline"] = {
                "measured": slowdown, "met": met}
        ours, peers = best_record(records, backbone, "baseline"), _ok(records, "timm",
                                                                       backbone=backbone)
        if ours and peers:
            peer = max((r for r in peers if steady(r) or not any(map(steady, peers))),
                       key=lambda record: record["images_per_s"])
            both = steady(ours) and steady(peer)
            found[f"{backbone}/baseline not slower than timm"] = {
                "measured": {"keras": _described(ours), "timm": _described(peer)},
                "met": ours["images_per_s"] >= peer["images_per_s"] if both else None}
    return found


def best_record(records, backbone: str, network: str) -> dict[str, Any] | None:
    """The fastest successful Keras record of a network on a backbone, steady ones preferred."""
    found = _ok(records, "keras", backbone=backbone, network=network)
    pool = [record for record in found if steady(record)] or found
    return max(pool, key=lambda record: record["images_per_s"]) if pool else None


def _described(record: dict[str, Any] | None) -> str | None:
    if record is None:
        return None
    return (f"{record['images_per_s']:.0f} img/s ({record['name']}"
            f"{'' if steady(record) else ', disturbed'})")


def _gib(value: int | None) -> float | None:
    return None if value is None else round(value / 2**30, 1)


# ----- Projections and Markdown (run on the project's machine, not by the benchmark) -----


def grid_runs(profile: str) -> list[dict[str, Any]]:
    """The distinct training runs of a profile's default grid: variant, modules, loss weight.

    Cells that two studies share (the same fields) are one run, as the grid trains them once.
    """
    import yaml

    from thesis_lib.experiments.studies import STUDY_SCALES, make_study

    config = yaml.safe_load((ROOT / "configs" / f"{profile}.yaml").read_text())
    scale = STUDY_SCALES[profile]
    weight = float(config.get("contrastive_center_weight") or 0.0)
    runs: dict[tuple, dict[str, Any]] = {}
    for name in scale.studies:
        study = make_study(name, scale.seeds, backbone=config["backbone"],
                           comparison_modules=scale.comparison_modules, gramnet=scale.gramnet,
                           activations=scale.activations, pairwise=scale.pairwise,
                           contrastive_center_weight=weight or 0.1)
        for setting, fields in study.settings.items():
            fields = {"contrastive_center_weight": weight, **fields}
            key = tuple(sorted((k, str(v)) for k, v in fields.items()))
            runs.setdefault(key, {"setting": f"{study.name}/{setting}", **fields})
    return [{**fields, "seeds": len(scale.seeds)} for fields in runs.values()]


def network_name(fields: dict[str, Any]) -> str:
    return "baseline" if fields["variant"] == "baseline" else \
        f"{fields['variant']}{fields['modules']}"


def project(records: list[dict[str, Any]], profile: str, train_images: int) -> dict[str, Any]:
    """Hours of training of a profile's default grid on the measured GPU.

    Each run: epochs x train_images / (images/s of its network at its best measured precision
    and batch) + one compilation. A network that was not measured on the profile's backbone is
    given the rate of the slowest network measured there (its ``source`` says so); settings of
    the ablations (other taps, other activations) are listed apart, not projected.
    """
    import yaml

    config = yaml.safe_load((ROOT / "configs" / f"{profile}.yaml").read_text())
    epochs, backbone = int(config["epochs"]), config["backbone"]
    networks = {record["network"] for record in _ok(records, "keras", backbone=backbone)}
    best = [best_record(records, backbone, network) for network in networks]
    slowest = min(best, key=lambda record: record["images_per_s"]) if best else None
    hours, left_out, rows = 0.0, [], []
    for run in grid_runs(profile):
        network = network_name(run)
        record = best_record(records, backbone, network)
        source = "measured" if record is None or steady(record) else "measured (disturbed)"
        if run.get("taps") or run.get("activation") or (record is None and slowest is None):
            left_out.append(run["setting"])
            continue
        if record is None:
            record, source = slowest, f"not measured: the rate of {slowest['network']}"
        run_s = epochs * train_images / record["images_per_s"] + record.get("compile_s", 0.0)
        hours += run["seeds"] * run_s / 3600
        rows.append({"setting": run["setting"], "network": network, "seeds": run["seeds"],
                     "images_per_s": record["images_per_s"], "source": source,
                     "precision": record["precision"], "batch": record["batch_size"],
                     "hours_per_run": round(run_s / 3600, 3)})
    return {"profile": profile, "backbone": backbone, "epochs": epochs,
            "train_images": train_images, "runs": rows, "hours": round(hours, 2),
            "not_projected": left_out}


def markdown(reports: list[dict[str, Any]]) -> str:
    """The tables of docs/gpu.md from one or more benchmark JSONs (runs 1, 2, ...)."""
    records = [{**record, "run": number}
               for number, report in enumerate(reports, start=1) for record in report["items"]]
    lines = []
    for number, report in enumerate(reports, start=1):
        machine = report["machine"]
        lines.append(f"- run {number}: {report['date']}, {', '.join(machine.get('gpus', []))}, "
                     f"{machine['cpu_count']} CPU cores, {report['parallel']} workers, "
                     f"{report['elapsed_s']:.0f} s; "
                     + ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v))
    lines += ["", "| run | item | status | images/s | best step img/s | IQR % | peak GiB "
              "| compile s |", "|---:|---|---|---:|---:|---:|---:|---:|"]
    for record in records:
        if record["status"] == "skipped" and "not started" in record.get("reason", ""):
            continue
        spread = relative_spread(record)
        best = record["batch_size"] / record["min_step_s"] if record.get("min_step_s") else None
        compile_s = record.get("compile_s")
        lines.append(
            f"| {record['run']} | {record['name']} | {record['status']} | "
            f"{_number(record.get('images_per_s'))} | {_number(best)} | "
            f"{'' if spread is None else f'{100 * spread:.0f}'}"
            f"{'' if spread is None or steady(record) else ' (disturbed)'} | "
            f"{_number(_gib(record.get('peak_bytes')), '.1f')} | "
            f"{_number(compile_s)} |")
    not_started = sum(r["status"] == "skipped" and "not started" in r.get("reason", "")
                      for r in records)
    lines += ["", f"Items not started for lack of time: {not_started}.", ""]
    summary = summarize(records)
    lines += ["**Ratios** (steady: both timings undisturbed)", "",
              "| ratio | value | steady |", "|---|---:|---|"]
    for title, entries, form in (
            ("slower than its baseline by", summary["gram_slowdown"], "+.1%"),
            ("Keras-JAX / timm", summary["keras_over_timm"], ".2f"),
            ("fit from host memory / batch on the GPU", summary["fit_over_resident"], ".2f")):
        for label, entry in entries.items():
            lines.append(f"| {label}: {title} | {entry['value']:{form}} | "
                         f"{'yes' if entry['steady'] else 'no'} |")
    lines += ["", "**Targets**", "", "| target | measured | met |", "|---|---|---|"]
    for label, entry in summary["targets"].items():
        met = {True: "yes", False: "**no**", None: "not established"}[entry["met"]]
        lines.append(f"| {label} | {_plain(entry['measured'])} | {met} |")
    lines.append("")
    for profile, images in (("thesis", THESIS_TRAIN_IMAGES),
                            ("dissertation", EMOSET_TRAIN_IMAGES)):
        projection = project(records, profile, images)
        lines += [f"**Projected grid: {profile}** ({projection['backbone']}, "
                  f"{projection['epochs']} epochs of {images:,} training images per run, one "
                  f"GPU): {projection['hours']:.1f} h of training", "",
                  "| setting | network | seeds | images/s | source | precision, batch "
                  "| h per run |", "|---|---|---:|---:|---|---|---:|"]
        for row in projection["runs"]:
            lines.append(f"| {row['setting']} | {row['network']} | {row['seeds']} | "
                         f"{row['images_per_s']:,.0f} | {row['source']} | {row['precision']}, "
                         f"{row['batch']} | {row['hours_per_run']:.2f} |")
        if projection["not_projected"]:
            lines.append(f"\nNot projected (ablation settings): "
                         f"{', '.join(projection['not_projected'])}.")
        lines.append("")
    pipeline_file = ROOT / "results" / "benchmarks" / "input_pipeline.json"
    if pipeline_file.exists():
        lines += input_cores(records, pipeline_file)
    return "\n".join(lines)


def input_cores(records: list[dict[str, Any]], pipeline_file: Path) -> list[str]:
    """Markdown: images/s per CPU core of the input pipeline, and the cores that would feed
    each backbone's fastest steady training rate (``benchmarks/input_pipeline.py``'s JSON)."""
    pipeline = json.loads(pipeline_file.read_text())
    cores = pipeline["machine"]["usable_cpus"]
    per_core = {name: rate / cores for name, rate in pipeline["images_per_second"].items()
                if name != "naive_keras"}
    rates = {backbone: record for backbone in TARGET_RATES
             for record in [max((r for r in _ok(records, "keras", backbone=backbone)
                                 if steady(r)), key=lambda r: r["images_per_s"], default=None)]
             if record}
    lines = [f"Input pipeline ({pipeline_file.name}: {pipeline['image_size']} px, {cores} CPU "
             f"cores, load average {pipeline['machine']['load_average_1min']:.1f}), "
             "images/s per core and the cores needed to feed the fastest steady training rate:",
             "", "| pipeline | images/s per core | "
             + " | ".join(f"cores for {r['name']} ({r['images_per_s']:,.0f} img/s)"
                          for r in rates.values()) + " |",
             "|---|---:|" + "---:|" * len(rates)]
    for name, rate in per_core.items():
        lines.append(f"| {name} | {rate:,.0f} | "
                     + " | ".join(f"{r['images_per_s'] / rate:.1f}" for r in rates.values())
                     + " |")
    return lines + [""]


def _number(value: float | None, form: str = ",.0f") -> str:
    return "" if value is None else f"{value:{form}}"


def _plain(measured: Any) -> str:
    if isinstance(measured, dict) and "value" in measured:
        return f"{measured['value']:+.1%}" + ("" if measured["steady"] else " (disturbed)")
    if isinstance(measured, dict):
        return "; ".join(f"{key}: {value}" for key, value in measured.items())
    return str(measured)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", type=Path, nargs="+", help="JSONs written by bench.py")
    args = parser.parse_args(argv)
    print(markdown([json.loads(path.read_text()) for path in args.reports]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
