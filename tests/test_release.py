"""thesis release and thesis verify: what a release holds, what it never holds, and that verify
names every tampered item (the end-to-end test trains a tiny two-seed study)."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import zipfile

import pandas as pd
import pytest
import yaml
from run_records import write_run

from thesis_lib.cli import main as thesis
from thesis_lib.release import build, card, verify


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- fast: no network is trained or loaded


def test_a_release_of_an_unfinished_study_is_one_line_and_writes_nothing(tmp_path, capsys):
    results = tmp_path / "results"
    write_run(results, "gram-s0", seed=0)
    write_run(results, "gram-s1", seed=1, state="running")
    cells = results / "studies" / "tiny"
    cells.mkdir(parents=True)
    pd.DataFrame({"setting": ["gram", "gram"], "seed": [0, 1],
                  "run_id": ["gram-s0", "gram-s1"]}).to_csv(cells / "cells.csv", index=False)
    out = tmp_path / "release"
    code = thesis(["release", str(results), "--out", str(out), "--study", "tiny",
                   "--licence", "CC-BY-4.0", "--author", "Doe, Jane"])
    error = capsys.readouterr().err.strip()
    assert code == 2
    assert len(error.splitlines()) == 1
    assert "not finished" in error and "gram seed 1: running" in error
    assert sorted(path.name for path in tmp_path.iterdir()) == ["results"]


def test_citation_cff_is_yaml_with_the_required_fields():
    record = {"title": "Study 'comparison': models", "authors": ["Doe, Jane", "The Lab"],
              "version": "1.0.0", "created": "2026-12-06T03:00:00+00:00",
              "licence": "CC-BY-4.0", "workbench_commit": "abc123"}
    text = card.citation_cff(record)
    parsed = yaml.safe_load(text)
    assert card.check_citation(text) == parsed
    assert parsed["cff-version"] == "1.2.0" and parsed["license"] == "CC-BY-4.0"
    assert parsed["authors"] == [{"family-names": "Doe", "given-names": "Jane"},
                                 {"name": "The Lab"}]
    assert parsed["date-released"] == "2026-12-06"
    with pytest.raises(ValueError, match="authors"):
        card.check_citation(text.replace("authors:", "creators:"))


def test_manifest_and_dataset_checks_name_every_changed_missing_and_extra_file(tmp_path):
    release = tmp_path / "release"
    (release / "runs" / "a").mkdir(parents=True)
    (release / "runs" / "a" / "metrics.json").write_text("{}")
    (release / "summary.csv").write_text("x\n1\n")
    build.write_manifest(release)
    lines = (release / build.MANIFEST_FILE).read_text().splitlines()
    assert lines == [f"{_sha(release / 'runs/a/metrics.json')}  runs/a/metrics.json",
                     f"{_sha(release / 'summary.csv')}  summary.csv"]
    assert verify.check_manifest(release).ok
    (release / "summary.csv").write_text("x\n2\n")
    (release / "runs" / "a" / "metrics.json").unlink()
    (release / "new.txt").write_text("added")
    check = verify.check_manifest(release)
    assert not check.ok
    assert check.message == ("missing runs/a/metrics.json; changed summary.csv; "
                             "not listed new.txt")

    data = tmp_path / "data"
    (data / "a").mkdir(parents=True)
    for name in ("one.jpg", "two.jpg", "three.jpg"):
        (data / "a" / name).write_bytes(name.encode())
    (release / "data" / "demo").mkdir(parents=True)
    build.hash_folder(data).to_csv(release / "data" / "demo" / "images.csv", index=False)
    assert verify.check_dataset(release, "demo", data).ok
    (data / "a" / "one.jpg").write_bytes(b"changed")
    (data / "a" / "two.jpg").unlink()
    (data / "a" / "four.jpg").write_bytes(b"new")
    check = verify.check_dataset(release, "demo", data)
    assert not check.ok
    assert check.message == "missing a/two.jpg; changed a/one.jpg; extra a/four.jpg"


# --- end to end: a tiny study trained here


@pytest.fixture(scope="module")
def tiny_study(tiny_dataset, tiny_values, tmp_path_factory):
    """A results folder with the study "tiny" (one setting, seeds 0 and 1, finished), an
    unfinished run outside it, an executed notebook, a table and a figure."""
    import nbformat

    from thesis_lib.config.training import make_config
    from thesis_lib.training import run_training

    root = tmp_path_factory.mktemp("release-study")
    data = root / "data"
    shutil.copytree(tiny_dataset, data)
    results = root / "results"
    run_ids = []
    for seed in (0, 1):
        config = make_config("smoke", **tiny_values(data, results, seed=seed))
        run_ids.append(run_training(config).name)
    write_run(results, "unfinished-s9", seed=9, state="running")
    study = results / "studies" / "tiny"
    study.mkdir(parents=True)
    pd.DataFrame({"setting": ["gram-1", "gram-1"], "seed": [0, 1], "run_id": run_ids,
                  "state": "finished"}).to_csv(study / "cells.csv", index=False)
    (results / "tables").mkdir()
    (results / "tables" / "thesis_table.tex").write_text("\\begin{tabular}{l}\\end{tabular}\n")
    (results / "figures").mkdir()
    shutil.copy(data / "other" / "other_0000.jpg", results / "figures" / "oops.png")
    (results / "figures" / "accuracy.pdf").write_bytes(b"%PDF-1.4 tiny")
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('seven')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="seven\n")]
    notebook.cells = [cell]
    (results / "notebooks").mkdir()
    nbformat.write(notebook, results / "notebooks" / "04_ablations.ipynb")
    return {"results": results, "data": data, "run_ids": run_ids, "root": root}


@pytest.mark.slow
def test_release_verify_and_every_tampering_is_named(tiny_study, tmp_path, capsys):
    from thesis_lib.analysis.predict import load_run

    out = tmp_path / "release"
    started = time.perf_counter()
    assert thesis(["release", str(tiny_study["results"]), "--out", str(out), "--study", "tiny",
                   "--licence", "CC-BY-4.0", "--author", "Doe, Jane"]) == 0
    release_s = time.perf_counter() - started
    printed = capsys.readouterr().out
    left_out = [line for line in printed.splitlines() if line.startswith("left out:")]
    assert len(left_out) == 1
    assert "dataset images (20 files" in left_out[0]
    assert "figures/oops.png (a dataset image)" in left_out[0]

    # what is in it, and what never is
    record = json.loads((out / "release.json").read_text())
    assert [run["run_id"] for run in record["runs"]] == sorted(tiny_study["run_ids"])
    assert {run["setting"] for run in record["runs"]} == {"gram-1"}
    assert not (out / "runs" / "unfinished-s9").exists()
    image_hashes = {_sha(path) for path in tiny_study["data"].rglob("*.jpg")}
    released = [path for path in out.rglob("*") if path.is_file()]
    assert not image_hashes & {_sha(path) for path in released}
    assert not any(path.suffix == ".jpg" for path in released)
    for run_id in tiny_study["run_ids"]:
        for name in ("model.keras", "config.json", "metrics.json", "split.csv", "status.json"):
            assert (out / "runs" / run_id / name).is_file()
        assert not (out / "runs" / run_id / "checkpoint").exists()
    (dataset,) = record["datasets"].values()
    split_files = [out / name for name in dataset["splits"]]
    assert len(split_files) == 2  # one split per seed
    for split_file in split_files:
        split = pd.read_csv(split_file)
        for row in split.itertuples():
            image = tiny_study["data"] / row.relpath
            assert row.sha256 == _sha(image) and row.size_bytes == image.stat().st_size
    assert (out / "notebooks" / "04_ablations.html").is_file()
    assert "seven" in (out / "notebooks" / "04_ablations.html").read_text()
    assert (out / "tables" / "thesis_table.tex").is_file()
    assert (out / "figures" / "accuracy.pdf").is_file()
    environment = json.loads((out / "environment.json").read_text())
    assert environment["packages"]["keras"] and environment["keras_backend"]
    assert "python" in environment and "git_commit" in environment
    cff = card.check_citation((out / "CITATION.cff").read_text())
    assert cff["license"] == "CC-BY-4.0"
    model_card = (out / "MODEL_CARD.md").read_text()
    assert "## Intended use" in model_card and "## Limits" in model_card
    assert record["left_out"] in model_card
    with zipfile.ZipFile(f"{out}.zip") as archive:
        assert f"{out.name}/{build.MANIFEST_FILE}" in archive.namelist()
        members = [name for name in archive.namelist() if not name.endswith("/")]
        assert len(members) == len(released)

    # verify passes
    started = time.perf_counter()
    assert thesis(["verify", str(out), "--data-dir", str(tiny_study["data"])]) == 0
    verify_s = time.perf_counter() - started
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith("ok") for line in lines[:-1])
    assert sum("reproduced exactly" in line for line in lines) == 2
    assert sum("safe_mode=True" in line for line in lines) == 2
    print(f"release {release_s:.1f} s, verify {verify_s:.1f} s")

    # a release folder predicts as a run folder does
    run = load_run(out / "runs" / tiny_study["run_ids"][0])
    assert run.temperature == json.loads(
        (out / "runs" / run.run_dir.name / "metrics.json").read_text()
    )["temperature_scaling"]["temperature"]
    image = tiny_study["data"] / "sadness" / "sadness_0000.jpg"
    assert thesis(["predict", str(out / "runs" / run.run_dir.name), str(image),
                   "--out", str(tmp_path / "p.csv"), "--calibrated"]) == 0
    assert thesis(["predict", str(out), str(image), "--out", str(tmp_path / "q.csv")]) == 2
    assert "a release of 2 runs; name one of them" in capsys.readouterr().err

    # one image changed: verify names it
    data = tmp_path / "data"
    shutil.copytree(tiny_study["data"], data)
    (data / "other" / "other_0003.jpg").write_bytes(
        (data / "other" / "other_0004.jpg").read_bytes())
    checks = verify.verify_release(out, data, load_check=False)
    failed = [check for check in checks if not check.ok]
    assert failed and failed[0].item.startswith("dataset ")
    assert "changed other/other_0003.jpg" in failed[0].message

    # one model's weights changed: verify names the model and the metrics that moved
    tampered = tmp_path / "tampered"
    shutil.copytree(out, tampered)
    run_id = tiny_study["run_ids"][1]
    _scale_last_layer(tampered / "runs" / run_id / "model.keras", 3.0)
    checks = {check.item: check for check in
              verify.verify_release(tampered, tiny_study["data"], load_check=False)}
    assert not checks["manifest"].ok and f"runs/{run_id}/model.keras" in checks["manifest"].message
    moved = checks[f"model {run_id}"]
    assert not moved.ok and "nll" in moved.message and "probabilities moved" in moved.message
    assert checks[f"model {tiny_study['run_ids'][0]}"].ok

    # a run removed: the manifest fails
    removed = tmp_path / "removed"
    shutil.copytree(out, removed)
    shutil.rmtree(removed / "runs" / tiny_study["run_ids"][0])
    assert thesis(["verify", str(removed), "--data-dir", str(tiny_study["data"])]) == 2
    lines = capsys.readouterr().out.splitlines()
    manifest_line = next(line for line in lines if "manifest" in line)
    assert manifest_line.startswith("FAIL") and "missing runs/" in manifest_line


def _scale_last_layer(path, factor):
    """Multiply the kernel of the network's last layer with weights by ``factor``."""
    from thesis_lib.models import load_model

    model = load_model(path)
    layer = next(layer for layer in reversed(model.layers) if layer.get_weights())
    layer.set_weights([weights * factor for weights in layer.get_weights()])
    model.save(path)


def test_settings_are_chosen_by_name_and_an_unknown_one_is_one_line(tmp_path, capsys):
    results = tmp_path / "results"
    for run_id, variant, modules, seed in (("gram-s0", "gram", 4, 0), ("gram-s1", "gram", 4, 1),
                                           ("base-s0", "baseline", 0, 0)):
        run_dir = write_run(results, run_id, variant=variant, modules=modules, seed=seed)
        (run_dir / "model.keras").write_bytes(b"weights of " + run_id.encode())
    data = tmp_path / "data"
    (data / "sad").mkdir(parents=True)
    (data / "sad" / "a.jpg").write_bytes(b"an image")
    write_run(results, "gram-s2", seed=2, state="failed")
    common = ["--licence", "MIT", "--author", "Lab", "--data-dir", str(data)]
    assert thesis(["release", str(results), "--out", str(tmp_path / "r"),
                   "--setting", "nonsense", *common]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "--setting nonsense: not a setting" in error
    assert not (tmp_path / "r").exists()

    assert thesis(["release", str(results), "--out", str(tmp_path / "r"),
                   "--setting", "baseline EfficientNetV2B2", *common]) == 0
    left_out = capsys.readouterr().out.splitlines()[-1]
    assert left_out.startswith("left out: dataset images (1 files")
    assert "1 unfinished run(s): gram-s2 (failed)" in left_out
    assert "2 run(s) of other settings" in left_out
    assert sorted(path.name for path in (tmp_path / "r" / "runs").iterdir()) == ["base-s0"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data", "r", "r.zip", "results"]
    # records written before calibration: released, summarised, no calibration table
    assert not (tmp_path / "r" / "summary" / "calibration.tex").exists()
    summary = pd.read_csv(tmp_path / "r" / "summary" / "summary.csv")
    assert set(summary["metric"]) == {"accuracy", "balanced_accuracy", "macro_f1"}
    assert verify.check_manifest(tmp_path / "r").ok
    assert all(check.ok for check in verify.check_tables(tmp_path / "r"))

    (results / "runs" / "base-s0" / "model.keras").unlink()
    assert thesis(["release", str(results), "--out", str(tmp_path / "s"), *common]) == 2
    assert "without model.keras" in capsys.readouterr().err
