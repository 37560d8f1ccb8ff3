"""A real run killed with SIGKILL continues from its last completed epoch, exactly as if it had
never stopped: same history, same weights (deterministic ops on the CPU)."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pandas as pd

import thesis_lib.layers  # noqa: F401  (registers the custom layers for loading)
from thesis_lib import files
from thesis_lib.config.training import make_config
from thesis_lib.training import plan_run, records

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
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen([sys.executable, "-c", TRAIN_SCRIPT, json.dumps(values)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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


def test_killed_run_resumes_into_the_run_it_would_have_been(smoke_run, tiny_dataset,
                                                             tiny_values, tmp_path):
    # The smoke profile with RandAugment and dropout on, so that the data stream and the
    # dropout masks must continue; the uninterrupted reference is the session's smoke run of
    # the same setting.
    reference_config, uninterrupted = smoke_run
    values = tiny_values(tiny_dataset, tmp_path / "killed", epochs=2, augment=True,
                         epoch_delay_s=1.0)
    del values["deterministic"]  # the profile's own setting, as in the reference
    config = make_config("smoke", **values)
    run_dir = plan_run(config).run_dir
    assert run_dir.name == uninterrupted.name  # the same setting: the run it would have been
    assert config.deterministic and reference_config.epochs == config.epochs == 2

    kill_after_epoch(values, run_dir, epoch=0)
    state = files.read_json(run_dir / "checkpoint" / "state.json")
    assert state["epoch"] == 0 and state["random_state"]  # dropout generators were saved
    assert records.read_status(run_dir)["state"] == "running"  # visibly unfinished
    assert (run_dir / "RUNNING").exists()

    wait_for(start_training({**values, "epoch_delay_s": 0.0}))

    history = pd.read_csv(run_dir / "history.csv")
    assert history["epoch"].tolist() == [0, 1]
    # The optimizer state came back with the weights: its step counter runs on.
    steps_per_epoch = history["optimizer_step"].iloc[0]
    assert history["optimizer_step"].tolist() == [steps_per_epoch * (e + 1) for e in range(2)]
    reference = pd.read_csv(uninterrupted / "history.csv")
    pd.testing.assert_frame_equal(history.drop(columns="seconds"),
                                  reference.drop(columns="seconds"))
    for mine, theirs in zip(weights_of(run_dir), weights_of(uninterrupted), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    status = records.read_status(run_dir)
    assert status["state"] == "finished" and status["attempts"] == 2
    assert [path.name for path in run_dir.parent.iterdir()] == [run_dir.name]  # no second run
    assert not (run_dir / "RUNNING").exists() and (run_dir / "metrics.json").is_file()
