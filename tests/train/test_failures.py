"""Bad conditions give one line and lose nothing: a kill while the record is completed, a full
or unwritable results folder, an image file that changes during training."""

import dataclasses
import errno
import shutil
import threading
import time

import pandas as pd
import pytest

from thesis_lib import files
from thesis_lib.cli import main
from thesis_lib.config.training import make_config
from thesis_lib.errors import DataError, ThesisError
from thesis_lib.training import records, run_training
from thesis_lib.training import run as run_module


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no handler marks the run failed."""


def kill_at(monkeypatch, window: int) -> None:
    """Stop ``finish_record`` at ``window``: 0 before model.keras, 1 before predictions.csv,
    2 before metrics.json, 3 before the finished status, 4 before the checkpoint is removed."""
    calls = {"writes": 0}
    original_write, original_rmtree = files.atomic_write, shutil.rmtree

    def counting_write(path, write):
        if calls["writes"] == window:
            raise Killed()
        calls["writes"] += 1
        return original_write(path, write)

    def finishing(*args, **kwargs):
        # Every record file goes through the one atomic writer.
        monkeypatch.setattr(files, "atomic_write", counting_write)
        monkeypatch.setattr(run_module.shutil, "rmtree", guarded_rmtree)
        return original_finish(*args, **kwargs)

    def guarded_rmtree(path, *args, **kwargs):
        if window == 4 and str(path).endswith("checkpoint"):
            raise Killed()
        return original_rmtree(path, *args, **kwargs)

    original_finish = run_module.finish_record
    monkeypatch.setattr(run_module, "finish_record", finishing)
    monkeypatch.setattr(run_module, "_mark_failed", lambda *args: None)  # a kill marks nothing


@pytest.fixture(scope="module")
def killed_before_finishing(tiny_dataset, tiny_values, tmp_path_factory):
    """A run killed just before its record is completed (window 0): every epoch trained and
    checkpointed, status still running; copied as the start of each window's test."""
    results = tmp_path_factory.mktemp("killed")
    config = make_config("smoke", **tiny_values(tiny_dataset, results, epochs=1))
    with pytest.MonkeyPatch.context() as patch:
        kill_at(patch, 0)
        with pytest.raises(Killed):
            run_training(config)
    return config, next((results / "runs").iterdir())


# The first and the last window in the fast tier, all five in the full one.
@pytest.mark.parametrize("window", [0, pytest.param(1, marks=pytest.mark.slow),
                                    pytest.param(2, marks=pytest.mark.slow),
                                    pytest.param(3, marks=pytest.mark.slow), 4])
def test_a_kill_anywhere_in_finishing_resumes_without_retraining(window, killed_before_finishing,
                                                                  tmp_path):
    template_config, template = killed_before_finishing
    run_dir = tmp_path / "runs" / template.name
    shutil.copytree(template, run_dir)
    config = dataclasses.replace(template_config, results_dir=str(tmp_path))
    history = (run_dir / "history.csv").read_text()
    if window > 0:  # window 0 is the template itself
        with pytest.MonkeyPatch.context() as patch:
            kill_at(patch, window)
            with pytest.raises(Killed):
                run_training(config)
    state = records.read_status(run_dir)["state"]
    assert state == ("finished" if window == 4 else "running")

    assert run_training(config) == run_dir
    assert (run_dir / "history.csv").read_text() == history  # no epoch trained again
    status = records.read_status(run_dir)
    assert status["state"] == "finished" and not (run_dir / "checkpoint").exists()
    assert status["attempts"] == {0: 2, 4: 2}.get(window, 3)
    assert {"metrics.json", "predictions.csv", "model.keras"} <= {p.name for p in run_dir.iterdir()}


@pytest.mark.slow  # a whole training path; the fast tier tests its parts
def test_a_full_disk_is_one_line_and_the_run_resumes_from_its_last_epoch(
        tiny_dataset, tiny_values, tmp_path, monkeypatch):
    config = make_config("smoke", **tiny_values(tiny_dataset, tmp_path / "results", epochs=2))
    original = files.atomic_write

    def full_at_epoch_1(path, write):
        if path.name == "epoch-1.npz":
            def no_space(_tmp):
                raise OSError(errno.ENOSPC, "No space left on device")
            return original(path, no_space)
        return original(path, write)

    with monkeypatch.context() as patch:
        patch.setattr(files, "atomic_write", full_at_epoch_1)
        with pytest.raises(ThesisError) as error:
            run_training(config)
    message = str(error.value)
    assert "epoch-1.npz: No space left on device" in message and "\n" not in message
    run_dir = next((tmp_path / "results" / "runs").iterdir())
    assert records.read_status(run_dir)["state"] == "failed"
    assert pd.read_csv(run_dir / "history.csv")["epoch"].tolist() == [0]  # epoch 0 is kept

    assert run_training(config) == run_dir  # space again: it resumes and finishes
    assert pd.read_csv(run_dir / "history.csv")["epoch"].tolist() == [0, 1]
    assert records.read_status(run_dir)["state"] == "finished"


def test_an_unwritable_results_folder_is_one_line_with_exit_status_2(tiny_dataset, tmp_path,
                                                                      capsys):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    status = main(["train", "-f", "smoke", "--data-dir", str(tiny_dataset),
                   "--results-dir", str(blocked / "results"), "--epochs", "1"])
    error = capsys.readouterr().err.strip()
    assert status == 2
    assert error.startswith("thesis train: error: cannot create the run folder")
    assert "\n" not in error and "Traceback" not in error


@pytest.mark.slow
def test_an_image_that_changes_during_training_is_named(tiny_dataset, tiny_values, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_dataset, data)
    values = tiny_values(data, tmp_path / "results", epochs=3, epoch_delay_s=2.0)
    config = make_config("smoke", **values)
    runs = tmp_path / "results" / "runs"

    def break_images_after_the_first_epoch():
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if any(runs.glob("*/history.csv")):
                for image in sorted(data.rglob("*.jpg")):
                    image.write_bytes(b"no longer a JPEG")
                return
            time.sleep(0.05)

    breaker = threading.Thread(target=break_images_after_the_first_epoch)
    breaker.start()
    try:
        with pytest.raises(DataError) as error:
            run_training(config)
    finally:
        breaker.join()
    message = str(error.value)
    assert "changed during training" in message and str(data) in message
    assert "\n" not in message
    run_dir = next(runs.iterdir())
    status = records.read_status(run_dir)
    assert status["state"] == "failed" and "changed during training" in status["error"]
    assert pd.read_csv(run_dir / "history.csv")["epoch"].tolist()[0] == 0  # kept
