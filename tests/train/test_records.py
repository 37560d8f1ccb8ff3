"""Atomic writes, status markers and run planning (skip / resume / forced new folder)."""

import os

import pandas as pd
import pytest

from thesis_lib import files
from thesis_lib.analysis import results
from thesis_lib.config.training import make_config
from thesis_lib.errors import ThesisError
from thesis_lib.training import records
from thesis_lib.training.run import plan_run


def test_atomic_write_leaves_old_file_when_writer_fails(tmp_path):
    target = tmp_path / "metrics.json"
    files.write_json(target, {"a": 1})

    def broken(tmp):
        tmp.write_text("{half")
        raise RuntimeError("killed while writing")

    with pytest.raises(RuntimeError):
        files.atomic_write(target, broken)
    assert files.read_json(target) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary left


def test_status_markers_follow_the_state(tmp_path):
    records.write_status(tmp_path, "running")
    assert (tmp_path / "RUNNING").exists()
    status = records.read_status(tmp_path)
    assert status["pid"] == os.getpid() and status["attempts"] == 1 and status["started"]
    records.write_status(tmp_path, "failed", error="boom")
    assert (tmp_path / "FAILED").exists() and not (tmp_path / "RUNNING").exists()
    records.write_status(tmp_path, "running")
    assert records.read_status(tmp_path)["attempts"] == 2
    records.write_status(tmp_path, "finished")
    assert not any((tmp_path / m).exists() for m in ("RUNNING", "FAILED"))
    assert records.read_status(tmp_path)["ended"]


def test_plan_skips_finished_forces_new_folder_resumes_unfinished(tmp_path):
    config = make_config("smoke", results_dir=str(tmp_path))
    first = plan_run(config)
    run_id = config.run_id(first.fingerprint.value)
    assert first.action == "new" and first.run_dir.name == run_id
    first.run_dir.mkdir(parents=True)
    records.write_status(first.run_dir, "failed")
    assert plan_run(config).action == "resume"
    records.write_status(first.run_dir, "finished")
    assert plan_run(config).action == "skip"
    forced = plan_run(config, force=True)
    assert forced.action == "new" and forced.run_dir.name == f"{run_id}-2"
    forced.run_dir.mkdir()
    assert plan_run(config, force=True).run_dir.name == f"{run_id}-3"


def test_a_planned_folder_is_used_as_given_and_never_overwritten(tmp_path):
    config = make_config("smoke", results_dir=str(tmp_path))
    chosen = tmp_path / "runs" / "chosen-2"
    plan = plan_run(config, run_dir=chosen)
    assert (plan.run_dir, plan.action) == (chosen, "new")
    chosen.mkdir(parents=True)
    records.write_status(chosen, "finished")
    assert plan_run(config, run_dir=chosen, force=True).action == "skip"
    other = make_config("smoke", results_dir=str(tmp_path), seed=9)
    files.write_json(chosen / "config.json",
                       {"config_run_id": config.run_id(plan.fingerprint.value)})
    with pytest.raises(ThesisError, match="holds the run"):
        plan_run(other, run_dir=chosen)


def test_a_live_run_is_not_started_twice(tmp_path):
    config = make_config("smoke", results_dir=str(tmp_path))
    run_dir = plan_run(config).run_dir
    run_dir.mkdir(parents=True)
    records.write_status(run_dir, "running")
    status = records.read_status(run_dir)
    status["pid"] = os.getppid()  # a live process other than this one
    files.write_json(run_dir / "status.json", status)
    with pytest.raises(ThesisError, match="already being trained"):
        plan_run(config)


def test_list_runs_reads_state_and_accuracy(tmp_path):
    run_dir = tmp_path / "runs" / "gram-m2-x"
    files.write_json(run_dir / "config.json", {"dataset_name": "demo",
                                                 "config": {"variant": "gram", "modules": 2}})
    records.write_status(run_dir, "finished")
    files.write_json(run_dir / "metrics.json", {"test_accuracy": 0.75})
    table = results.list_runs(tmp_path)
    assert isinstance(table, pd.DataFrame)
    assert table.loc[0, ["run_id", "state", "test_accuracy", "dataset"]].tolist() == [
        "gram-m2-x", "finished", 0.75, "demo"]


def test_the_environment_names_what_changes_the_digits_of_a_run(monkeypatch):
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    threads = records.environment_info()["cpu_threads"]
    assert threads["TF_ENABLE_ONEDNN_OPTS"] == "0" and threads["TF_NUM_INTRAOP_THREADS"] == "1"
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    assert "TF_ENABLE_ONEDNN_OPTS" not in records.environment_info()["cpu_threads"]
