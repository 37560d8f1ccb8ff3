"""A run stopped after an epoch continues from its last completed epoch, exactly as if it had
never stopped: same history, same weights (deterministic ops on the CPU). Stopped in this
process by an interrupt (fast tier), and killed with SIGKILL in a process of its own and
resumed in a fresh one (slow), as a user's run is."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

import thesis_lib.layers  # noqa: F401  (registers the custom layers for loading)
from thesis_lib import files
from thesis_lib.config.training import make_config
from thesis_lib.training import plan_run, records, run_training
from thesis_lib.training.callbacks import EpochDelay

TRAIN_SCRIPT = """
import json, sys
from thesis_lib.training import make_config, run_training
run_training(make_config("smoke", **json.loads(sys.argv[1])))
"""


def start_training(values: dict) -> subprocess.Popen:
    """Train ``values`` in a fresh process, as a user's resumed run starts: nothing that other
    tests left in this process (devices, compiled functions, generators) can reach it."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen([sys.executable, "-c", TRAIN_SCRIPT, json.dumps(values)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(process: subprocess.Popen) -> None:
    _, stderr = process.communicate(timeout=900)
    assert process.returncode == 0, stderr.decode()[-2000:]


def kill_after_epoch(values: dict, run_dir, epoch: int) -> None:
    """Train ``values`` in a subprocess and SIGKILL it once ``epoch`` is checkpointed."""
    state_file = run_dir / "checkpoint" / "state.json"
    process = start_training(values)
    try:
        deadline = time.monotonic() + 900  # generous: shared CI machines
        while True:
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, f"no checkpoint of epoch {epoch} after 900 s"
            if state_file.is_file() and files.read_json(state_file)["epoch"] >= epoch:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)  # in the pause after the epoch's checkpoint
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()


def weights_of(run_dir):
    model = keras.models.load_model(run_dir / "model.keras", compile=False)
    return model.get_weights()


def cpu_threads(run_dir) -> dict:
    return files.read_json(run_dir / "config.json")["environment"]["cpu_threads"]


def interrupted_values(smoke_run, tiny_dataset, tiny_values, results_dir) -> tuple[dict, Path]:
    """The values of the session's smoke run (RandAugment and dropout on, so that the data
    stream and the dropout masks must continue), with a pause after each epoch in which the
    run is stopped, and the folder of the run they plan: the smoke run's own setting."""
    reference_config, uninterrupted = smoke_run
    values = tiny_values(tiny_dataset, results_dir, epochs=2, augment=True, epoch_delay_s=1.0)
    del values["deterministic"]  # the profile's own setting, as in the reference
    config = make_config("smoke", **values)
    run_dir = plan_run(config).run_dir
    assert run_dir.name == uninterrupted.name  # the run it would have been
    assert config.deterministic and reference_config.epochs == config.epochs == 2
    return values, run_dir


def assert_resumed_into(run_dir, uninterrupted) -> None:
    """``run_dir``, stopped after epoch 0 and resumed, is the uninterrupted run."""
    history = pd.read_csv(run_dir / "history.csv")
    assert history["epoch"].tolist() == [0, 1]
    # The optimizer state came back with the weights: its step counter runs on.
    steps_per_epoch = history["optimizer_step"].iloc[0]
    assert history["optimizer_step"].tolist() == [steps_per_epoch * (e + 1) for e in range(2)]
    # Thread pools change the last digits of every weight: a difference here is the tests'
    # environment (a variable another test left behind), not the resume.
    assert cpu_threads(run_dir) == cpu_threads(uninterrupted)
    reference = pd.read_csv(uninterrupted / "history.csv")
    pd.testing.assert_frame_equal(history.drop(columns="seconds"),
                                  reference.drop(columns="seconds"))
    for mine, theirs in zip(weights_of(run_dir), weights_of(uninterrupted), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    status = records.read_status(run_dir)
    assert status["state"] == "finished" and status["attempts"] == 2
    assert [path.name for path in run_dir.parent.iterdir()] == [run_dir.name]  # no second run
    assert not (run_dir / "RUNNING").exists() and (run_dir / "metrics.json").is_file()


def test_interrupted_run_resumes_into_the_run_it_would_have_been(smoke_run, tiny_dataset,
                                                                  tiny_values, tmp_path,
                                                                  monkeypatch):
    values, run_dir = interrupted_values(smoke_run, tiny_dataset, tiny_values,
                                         tmp_path / "stopped")

    def interrupt(callback, epoch, logs=None):  # Ctrl-C in the pause after epoch 0's checkpoint
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(EpochDelay, "on_epoch_end", interrupt)
        with pytest.raises(KeyboardInterrupt):
            run_training(make_config("smoke", **values))
    state = files.read_json(run_dir / "checkpoint" / "state.json")
    assert state["epoch"] == 0 and state["random_state"]  # dropout generators were saved
    assert records.read_status(run_dir)["state"] == "failed"

    assert run_training(make_config("smoke", **{**values, "epoch_delay_s": 0.0})) == run_dir
    assert_resumed_into(run_dir, smoke_run[1])


@pytest.mark.slow
def test_killed_run_resumes_into_the_run_it_would_have_been(smoke_run, tiny_dataset,
                                                             tiny_values, tmp_path):
    values, run_dir = interrupted_values(smoke_run, tiny_dataset, tiny_values,
                                         tmp_path / "killed")

    kill_after_epoch(values, run_dir, epoch=0)
    state = files.read_json(run_dir / "checkpoint" / "state.json")
    assert state["epoch"] == 0 and state["random_state"]  # dropout generators were saved
    assert records.read_status(run_dir)["state"] == "running"  # visibly unfinished
    assert (run_dir / "RUNNING").exists()

    wait_for(start_training({**values, "epoch_delay_s": 0.0}))
    assert_resumed_into(run_dir, smoke_run[1])
